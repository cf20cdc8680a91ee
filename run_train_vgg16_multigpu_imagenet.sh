#!/usr/bin/env bash
# VGG16 training on ImageNet TFRecords on every GPU TensorFlow can see
# (MirroredStrategy, NCCL all-reduce; 8 on a full box); the CPU when there is none.
#
#   DATA_DIR=/data/imagenet BATCH_SIZE=64 ./run_train_vgg16_multigpu_imagenet.sh --epoch 90
#
# BATCH_SIZE is per GPU: the global batch is BATCH_SIZE x GPUs.  Extra arguments
# go to the runner.  Environment: see scripts/train_common.sh.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/train_common.sh
source "$here/scripts/train_common.sh"

python="$(vgg_python)"
vgg_translate_args "$@" || exit $?
vgg_device_args "$python" all
vgg_data_args
vgg_run_logged "vgg16_${VGG_GPUS}gpu" "$python" --model=vgg16 \
    --batch_size="${BATCH_SIZE:-32}" --optimizer=momentum \
    "${VGG_DEVICE_ARGS[@]}" ${VGG_DATA_ARGS[@]+"${VGG_DATA_ARGS[@]}"} \
    ${VGG_ARGS[@]+"${VGG_ARGS[@]}"}
