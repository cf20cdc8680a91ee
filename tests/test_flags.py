import os
import re

import pytest

from benchmarks import config as cfg
from benchmarks import flags
from benchmarks.errors import UsageError
from conftest import REPO


def test_defaults_follow_tf_cnn_benchmarks():
    c = flags.parse([])
    assert c.model.name == "vgg16"
    assert c.loop.num_batches == 100 and c.loop.num_warmup_batches == 10
    assert c.loop.display_every == 10
    assert c.optimizer.optimizer == "sgd"
    assert c.optimizer.weight_decay == 4e-5
    assert c.loop.tf_random_seed == 1234
    assert c.data.batch_size == 64  # per replica: the VGG models' default
    assert flags.parse(["--batch_size=0"]).data.batch_size == 64  # the same
    assert c.optimizer.init_learning_rate == 0.005  # tf_cnn_benchmarks' VGG
    assert c.log.log_path is None and c.data.data_dir is None  # synthetic
    assert c.dist.onednn == "auto" and c.model.filter_gradient == "auto"
    assert c.model.conv_algorithm == "auto"


def test_config_is_frozen():
    c = flags.parse([])
    with pytest.raises(Exception):
        c.loop.num_batches = 5


def test_values_reach_the_config():
    c = flags.parse(["--model=vgg19_bn", "--batch_size=16", "--num_batches=7",
                     "--num_warmup_batches=3", "--display_every=2",
                     "--optimizer=adam", "--init_learning_rate=0.1",
                     "--gradient_clip=2.5", "--weight_decay=0",
                     "--num_classes=10", "--image_size=64", "--steps_per_loop=4",
                     "--precision=bf16", "--xla", "--forward_only",
                     "--num_intra_threads=2", "--num_inter_threads=1",
                     "--log_path=/tmp/x.json", "--data_format=NHWC",
                     "--onednn=off", "--conv_filter_gradient=gemm"])
    assert (c.model.name, c.model.num_classes, c.model.image_size) == \
        ("vgg19_bn", 10, 64)
    assert c.model.precision == "bf16" and c.model.dtype_policy == "mixed_bfloat16"
    assert c.model.data_format == "channels_last"
    assert c.data.batch_size == 16
    assert (c.loop.num_batches, c.loop.num_warmup_batches, c.loop.display_every,
            c.loop.steps_per_loop) == (7, 3, 2, 4)
    assert c.loop.xla and c.loop.forward_only and c.loop.prefix == "infer"
    assert (c.optimizer.optimizer, c.optimizer.init_learning_rate,
            c.optimizer.gradient_clip, c.optimizer.weight_decay) == \
        ("adam", 0.1, 2.5, 0.0)
    assert (c.dist.num_intra_threads, c.dist.num_inter_threads) == (2, 1)
    assert c.log.log_path == "/tmp/x.json"
    assert c.dist.onednn == "off" and c.model.filter_gradient == "gemm"


def test_use_fp16_means_fp16():
    assert flags.parse(["--use_fp16"]).model.precision == "fp16"
    with pytest.raises(UsageError, match="use_fp16"):
        flags.parse(["--use_fp16", "--precision=bf16"])


def test_cpu_with_num_gpus_means_cpu_devices_as_in_tf_cnn():
    c = flags.parse(["--device=cpu", "--num_gpus=4"])
    assert c.dist.num_cpu_devices == 4 and c.dist.device == "cpu"


@pytest.mark.parametrize("argv,spec", [
    ([], None),
    (["--hierarchical_copy"], "hierarchical_copy"),
    (["--all_reduce_spec=nccl"], "nccl"),
    (["--variable_update=parameter_server"], "psgpu"),
    (["--variable_update=parameter_server", "--local_parameter_device=cpu"],
     "pscpu"),
])
def test_all_reduce_spec(argv, spec):
    assert flags.parse(argv).dist.all_reduce_spec == spec


def test_num_epochs_excludes_warmup_as_in_tf_cnn_benchmarks():
    from benchmarks.training import steps
    c = flags.parse(["--num_epochs=0.01", "--batch_size=16", "--num_gpus=2"])
    assert c.loop.num_epochs == 0.01
    steps_per_epoch = 1281167 / 32  # ImageNet, global batch 32
    # tf_cnn_benchmarks: int(epochs * examples + batch - 1) // batch timed
    # batches, after the warmup ones.
    timed = int(0.01 * 1281167 + 32 - 1) // 32
    assert steps.total_train_steps(c.loop, steps_per_epoch) == 10 + timed
    c = flags.parse(["--num_batches=7", "--num_warmup_batches=3"])
    assert steps.total_train_steps(c.loop, steps_per_epoch) == 10


def test_flagfile(tmp_path):
    path = tmp_path / "run.flags"
    path.write_text("--model=vgg13\n--batch_size=8\n--optimizer=momentum\n")
    c = flags.parse([f"--flagfile={path}", "--num_batches=3"])
    assert (c.model.name, c.data.batch_size, c.optimizer.optimizer,
            c.loop.num_batches) == ("vgg13", 8, "momentum", 3)


@pytest.mark.parametrize("argv,fragment", [
    (["--model=resnet50"], "known models: vgg11"),
    (["--batch_size=-1"], "--batch_size"),
    (["--num_batches=0"], "--num_batches"),
    (["--num_warmup_batches=-1"], "--num_warmup_batches"),
    (["--display_every=0"], "--display_every"),
    (["--steps_per_loop=0"], "--steps_per_loop"),
    (["--image_size=16"], "--image_size"),
    (["--num_classes=1"], "--num_classes"),
    (["--init_learning_rate=0"], "--init_learning_rate"),
    (["--gradient_clip=-1"], "--gradient_clip"),
    (["--dropout=1"], "--dropout"),
    (["--num_batches=5", "--num_epochs=1"], "not both"),
    (["--all_reduce_spec=xring"], "--all_reduce_spec=xring"),
    (["--variable_update=horovod"], "horovod"),
    (["--job_name=controller"], "--job_name=controller"),
    (["--worker_hosts=a:1,b:2", "--task_index=2"], "--task_index=2"),
    (["--worker_timeout_secs=0"], "--worker_timeout_secs"),
    (["--data_name=cifar10"], "--data_name"),
    (["--optimizer=lamb"], "optimizer"),
    (["--num_cpu_devices=2", "--device=gpu"], "--num_cpu_devices"),
])
def test_bad_values_are_usage_errors(argv, fragment):
    with pytest.raises(UsageError) as err:
        flags.parse(argv)
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


def test_config_validates_without_flags():
    with pytest.raises(UsageError, match="--batch_size"):
        cfg.DataConfig(batch_size=0)
    with pytest.raises(UsageError, match="--conv_filter_gradient"):
        cfg.ModelConfig(filter_gradient="winograd")
    assert cfg.ModelConfig(
        filter_gradient="gemm_im2col").filter_gradient == "gemm_im2col"
    with pytest.raises(UsageError, match="--dense_input_gradient"):
        cfg.ModelConfig(dense_gradient="winograd")
    assert cfg.ModelConfig(
        dense_gradient="batch_matmul").dense_gradient == "batch_matmul"
    with pytest.raises(UsageError, match="--conv_algorithm"):
        cfg.ModelConfig(conv_algorithm="fft")
    assert cfg.ModelConfig(conv_algorithm="direct").conv_algorithm == "direct"
    with pytest.raises(UsageError, match="--onednn"):
        cfg.DistConfig(onednn="maybe")
    assert cfg.RunConfig().to_dict()["model.name"] == "vgg16"


def test_data_flags_reach_the_config():
    c = flags.parse(["--data_dir=/data", "--crop_area_range=0.25,1",
                     "--crop_aspect_range=0.5,2", "--distortions",
                     "--datasets_use_caching", "--datasets_num_private_threads=3",
                     "--datasets_parallel_interleave_cycle_length=4",
                     "--datasets_prefetch_buffer_size=2",
                     "--datasets_shuffle_buffer_size=99", "--strict_input",
                     "--input_only"])
    d = c.data
    assert (d.data_dir, d.crop_area_range, d.crop_aspect_range) == \
        ("/data", (0.25, 1.0), (0.5, 2.0))
    assert d.distortions and d.datasets_use_caching and d.strict_input
    assert (d.datasets_num_private_threads,
            d.datasets_parallel_interleave_cycle_length,
            d.datasets_prefetch_buffer_size, d.datasets_shuffle_buffer_size) == \
        (3, 4, 2, 99)
    assert c.loop.input_only and c.loop.prefix == "input"


@pytest.mark.parametrize("argv,fragment", [
    (["--input_only"], "--data_dir"),
    (["--data_dir=/d", "--input_only", "--forward_only"], "exclude each other"),
    (["--crop_area_range=0.5"], "--crop_area_range"),
    (["--crop_area_range=a,b"], "--crop_area_range"),
    (["--crop_area_range=0.9,0.5"], "--crop_area_range"),
    (["--crop_aspect_range=0,1"], "--crop_aspect_range"),
    (["--datasets_shuffle_buffer_size=0"], "--datasets_shuffle_buffer_size"),
    (["--datasets_prefetch_buffer_size=0"], "--datasets_prefetch_buffer_size"),
])
def test_bad_data_flags_are_usage_errors(argv, fragment):
    with pytest.raises(UsageError, match=re.escape(fragment)):
        flags.parse(argv)


@pytest.mark.parametrize("recipe", sorted(
    f for f in os.listdir(os.path.join(REPO, "recipes")) if f.endswith(".flags")))
def test_recipes_load_and_are_recorded(recipe):
    path = os.path.join(REPO, "recipes", recipe)
    c = flags.parse([f"--flagfile={path}", "--data_dir=/data/imagenet"])
    assert c.log.recipes == (path,)
    assert c.model.name == recipe.split(".")[0].replace("_cosine", "")
    assert c.loop.num_epochs >= 90 and c.optimizer.optimizer == "momentum"
    assert c.optimizer.nesterov is False  # PyTorch-style momentum
    assert c.eval.every_n_epochs == 1
    assert c.schedule.kind in ("step", "cosine")


def test_schedule_eval_and_checkpoint_flags():
    c = flags.parse(["--piecewise_learning_rate_schedule=0.1;30;0.01;60;0.001",
                     "--data_dir=/d", "--eval_during_training_every_n_epochs=2",
                     "--stop_at_top_1_accuracy=0.7", "--train_dir=/t",
                     "--save_model_steps=100", "--optimizer=adamw",
                     "--label_smoothing=0.1"])
    assert c.schedule.kind == "piecewise"
    assert c.schedule.piecewise == (0.1, 30.0, 0.01, 60.0, 0.001)
    assert c.eval.during_training and c.eval.stop_at_top_1_accuracy == 0.7
    assert c.checkpoint.every_secs == 0.0  # by steps only
    assert flags.parse(["--train_dir=/t"]).checkpoint.every_secs == 600.0
    assert c.optimizer.optimizer == "adamw"
    assert c.optimizer.label_smoothing == 0.1
    c = flags.parse(["--data_dir=/d", "--eval", "--train_dir=/t",
                     "--checkpoint=best/best-9", "--eval_batch_size=64",
                     "--num_eval_batches=5", "--max_ckpts_to_keep=2",
                     "--summary_verbosity=2", "--deterministic",
                     "--eval_during_training_at_specified_epochs=0.5,2"])
    assert c.eval.eval and c.checkpoint.checkpoint == "best/best-9"
    assert c.eval.batch_size == 64 and c.eval.num_eval_batches == 5
    assert c.checkpoint.max_ckpts_to_keep == 2
    assert c.log.summary_verbosity == 2 and c.loop.deterministic
    assert c.eval.at_epochs == (0.5, 2.0)


@pytest.mark.parametrize("argv,fragment", [
    (["--piecewise_learning_rate_schedule=0.1;30"], "lr0;epoch1;lr1"),
    (["--piecewise_learning_rate_schedule=0.1;30;0.01;20;0.1"], "increasing"),
    (["--num_epochs_per_decay=2", "--learning_rate_decay_factor=2"],
     "--learning_rate_decay_factor"),
    (["--learning_rate_schedule=step"], "--num_epochs_per_decay"),
    (["--stop_at_top_1_accuracy=0.5", "--data_dir=/d"], "needs evaluations"),
    (["--stop_at_top_1_accuracy=71.6", "--data_dir=/d",
      "--eval_during_training_every_n_epochs=1"], "fraction"),
    (["--eval_during_training_every_n_steps=5"], "--data_dir"),
    (["--save_model_steps=5"], "--train_dir"),
    (["--num_eval_epochs=2", "--data_dir=/d", "--eval", "--train_dir=/t"],
     "(0, 1]"),
    (["--label_smoothing=1"], "--label_smoothing"),
    (["--forward_only", "--num_epochs=1"], "--num_epochs"),
])
def test_schedule_and_eval_errors(argv, fragment):
    with pytest.raises(UsageError, match=re.escape(fragment)):
        flags.parse(argv)


def test_every_setting_has_one_default_on_the_command_line_and_in_python():
    from_cli, in_python = flags.parse([]), cfg.RunConfig()
    settings = cfg.all_settings()
    assert len(settings) > 60
    for s in settings:
        # The declaration's flag default reads back as the field's default...
        assert s.parse(s.flag.default) == s.default, s.key
        # ...and a run from an empty command line is a RunConfig() run.
        cli = getattr(getattr(from_cli, s.section), s.field)
        assert cli == getattr(getattr(in_python, s.section), s.field), s.key
    # Every field of every section is a flag (the recipe list aside, which
    # the command line's --flagfile gives, and the parameter-server task
    # mark of --job_name=ps).
    keys = {s.key for s in settings} | {"log.recipes", "dist.ps_task"}
    assert set(in_python.to_dict()) == keys


def test_every_flag_is_declared_once():
    names = [f.name for f in flags.all_flags()]
    assert len(names) == len(set(names))


def test_model_flag_help_lists_the_registry():
    import models
    help_text = {s.flag.name: s.flag.help for s in cfg.all_settings()}["model"]
    for name in models.names():
        assert name in help_text
