# Shared by run_train_vgg16_imagenet.sh and run_train_vgg16_multigpu_imagenet.sh.
# Source it; it defines functions and sets nothing else.
#
# Environment:
#   DATA_DIR    ImageNet TFRecord directory (default ./imagenet_tfrecord)
#   BATCH_SIZE  batch per GPU (default 32)
#   LOG_DIR     where logs go (default ./logs)
#   PYTHON      interpreter (default: the repo's .venv if present, else python3)
#   DRY_RUN=1   print the command instead of running it

vgg_repo_dir() { cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd; }

vgg_python() {
    local repo; repo="$(vgg_repo_dir)"
    if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"
    elif [ -x "$repo/.venv/bin/python" ]; then echo "$repo/.venv/bin/python"
    else echo python3; fi
}

VGG_NOTES=()  # printed at the top of the log

vgg_note() { VGG_NOTES+=("NOTE: $*"); }

# Sets VGG_DATA_ARGS: the data flag, or nothing (synthetic data) with a note.
vgg_data_args() {
    VGG_DATA_ARGS=()
    if [ -n "${DATA_DIR:-}" ]; then
        VGG_DATA_ARGS=("--data_dir=$DATA_DIR")       # the runner checks it
    elif [ -d ./imagenet_tfrecord ]; then
        VGG_DATA_ARGS=("--data_dir=./imagenet_tfrecord")
    else
        vgg_note "no ImageNet TFRecords at ./imagenet_tfrecord (set DATA_DIR);" \
                 "running on synthetic data"
    fi
}

# Sets VGG_DEVICE_ARGS from the GPUs TensorFlow sees (not assumed from the
# hardware); at most $2 of them ("all" for every one).  Sets VGG_GPUS to the
# number used (0: the CPU).  The choice is benchmarks/machine/gpus.py's.
vgg_device_args() {
    local python="$1" want="$2" plan
    plan="$(cd "$(vgg_repo_dir)" && TF_CPP_MIN_LOG_LEVEL=3 "$python" -m \
        benchmarks.machine.gpus --want="$want" --batch_size="${BATCH_SIZE:-32}" \
        2>/dev/null)"
    if [ -z "$plan" ]; then
        vgg_note "TensorFlow could not be asked for GPUs; running on the CPU"
        VGG_GPUS=0
        VGG_DEVICE_ARGS=(--device=cpu)
        return
    fi
    eval "$plan"
}

# Translates run-script conveniences into runner flags: --epoch N -> --num_epochs=N.
# Result in the array VGG_ARGS.
vgg_translate_args() {
    VGG_ARGS=()
    while [ $# -gt 0 ]; do
        case "$1" in
            --epoch|--epochs)
                if [ $# -lt 2 ]; then echo "error: $1 needs a value" >&2; return 2; fi
                VGG_ARGS+=("--num_epochs=$2"); shift 2 ;;
            --epoch=*|--epochs=*) VGG_ARGS+=("--num_epochs=${1#*=}"); shift ;;
            *) VGG_ARGS+=("$1"); shift ;;
        esac
    done
}

# vgg_run_logged NAME PYTHON ARGS...: runs the runner, tees stdout and stderr to
# LOG_DIR/NAME_<time>.log, writes the dllogger JSON beside it, and returns the
# runner's exit status (not tee's).
vgg_run_logged() {
    local name="$1" python="$2"; shift 2
    local log_dir="${LOG_DIR:-logs}" stamp; stamp="$(date +%Y%m%d_%H%M%S)"
    local log="$log_dir/${name}_${stamp}.log" json="$log_dir/${name}_${stamp}.json"
    local cmd=("$python" -m benchmarks "$@" "--log_path=$json")
    if [ "${DRY_RUN:-0}" = 1 ]; then
        printf '%s\n' "${VGG_NOTES[@]}"; printf '%q ' "${cmd[@]}"; echo; return 0
    fi
    mkdir -p "$log_dir"
    {
        printf '%s\n' "${VGG_NOTES[@]}"
        echo "logging to $log and $json"
        PYTHONPATH="$(vgg_repo_dir)${PYTHONPATH:+:$PYTHONPATH}" "${cmd[@]}"
    } 2>&1 | tee "$log"
    local status=${PIPESTATUS[0]}
    echo "exit status $status; log: $log" >&2
    return "$status"
}
