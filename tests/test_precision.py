"""Precision, XLA, layout and peak: bf16/fp16 runs keep fp32 variables and
learn, NCHW on the CPU runs NHWC with a warning, --xla on the CPU runs (or
would give one clear line), the peak probes and the kernel check."""

import dataclasses
import io
import json
import os

import pytest
import tensorflow as tf
from conftest import tiny_config

from benchmarks import config as cfg
from benchmarks import runner
from benchmarks.machine import cpu, device_choices, peak
from benchmarks.tools import onednn_kernels as onednn
from benchmarks.errors import UsageError
from benchmarks.loop.compiled import explain_xla_error


def _entries(path):
    with open(path) as f:
        return [json.loads(line[5:]) for line in f if line.startswith("DLLL ")]


def _with_model(config, **changes):
    return config.replace(model=dataclasses.replace(config.model, **changes))


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_keeps_fp32_variables_and_the_loss_falls(
        tmp_path, precision):
    log_path = str(tmp_path / "log.json")
    config = _with_model(tiny_config(log_path=log_path, num_batches=10,
                                     display_every=2), precision=precision)
    config = config.replace(
        checkpoint=cfg.CheckpointConfig(train_dir=str(tmp_path / "train")),
        optimizer=cfg.OptimizerConfig(optimizer="momentum",
                                      init_learning_rate=0.01))
    stream = io.StringIO()
    final = runner.run(config, stream=stream)
    losses = [e["data"]["train.loss"] for e in _entries(log_path)
              if isinstance(e.get("step"), int) and "train.loss" in e["data"]]
    assert len(losses) == 6  # timed steps 1, 2, 4, 6, 8, 10
    # A fixed synthetic batch: the loss falls at every display, 5% in all.
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.95 * losses[0], losses
    # Every floating-point variable saved (weights, BN statistics, momentum
    # slots, the fp16 loss scale) is fp32; compute ran in the low precision.
    reader = tf.train.load_checkpoint(final["train.checkpoint"])
    dtypes = reader.get_variable_to_dtype_map()
    floats = {n: d for n, d in dtypes.items() if d.is_floating
              and n.startswith(("model/", "optimizer/"))}  # not the epoch count
    assert floats and all(d == tf.float32 for d in floats.values()), floats
    if precision == "fp16":
        assert any("loss_scale" in n or "dynamic_scale" in n for n in dtypes)


def test_model_computes_in_the_low_precision():
    import models
    model = models.build("vgg11", num_classes=10, image_size=32,
                         dtype_policy="mixed_bfloat16")
    out = model(tf.zeros((1, 32, 32, 3)), training=False)
    assert model.layers[1].compute_dtype == "bfloat16"
    assert out.dtype == tf.float32  # the logits layer keeps fp32 for the loss
    assert all(v.dtype == "float32" for v in model.trainable_variables)


def test_nchw_on_the_cpu_runs_nhwc_with_a_warning(tmp_path):
    log_path = str(tmp_path / "log.json")
    config = _with_model(tiny_config(log_path=log_path, num_batches=2),
                         data_format="channels_first")
    stream = io.StringIO()
    final = runner.run(config, stream=stream)
    assert "WARNING: --data_format=NCHW is not supported by TensorFlow's CPU" \
        in stream.getvalue()
    params = _entries(log_path)[0]["data"]
    assert params["model.data_format"] == "channels_first"
    assert params["model.data_format_used"] == "channels_last"
    assert final["train.timed_steps"] == 2


def test_xla_on_the_cpu_runs():
    config = tiny_config(num_batches=3, xla=True)
    final = runner.run(config, stream=io.StringIO())
    assert final["train.timed_steps"] == 3
    assert final["train.loss"] == final["train.loss"]  # finite, not NaN


def test_an_xla_failure_becomes_one_clear_line():
    error = tf.errors.InvalidArgumentError(
        None, None, "Detected unsupported operations when trying to compile "
        "graph __inference_step with XLA_CPU_JIT: FooOp\nstack trace...")
    explained = explain_xla_error(error, "/cpu:0")
    assert isinstance(explained, UsageError)
    message = str(explained)
    assert "\n" not in message
    assert message.startswith("--xla: XLA cannot compile or run the step on /cpu:0")
    assert message.endswith("run without --xla")
    other = tf.errors.InvalidArgumentError(None, None, "labels out of range")
    assert explain_xla_error(other, "/cpu:0") is None


def test_precision_warnings_follow_the_cpu_flags():
    assert "slow" in cpu.precision_warning("fp16", frozenset({"avx2"}))
    warning = cpu.precision_warning("bf16", frozenset({"avx", "avx2"}))
    assert "without AVX512_BF16 or AMX_BF16 (avx2 here)" in warning
    assert cpu.precision_warning("bf16", frozenset({"avx512f", "avx512_bf16"})) is None
    assert cpu.precision_warning("bf16", frozenset({"amx_bf16"})) is None
    assert cpu.precision_warning("fp32", frozenset()) is None


def test_bf16_run_on_this_cpu_warns_exactly_when_it_lacks_bf16():
    config = _with_model(tiny_config(num_batches=1), precision="bf16")
    stream = io.StringIO()
    runner.run(config, stream=stream)
    warned = "WARNING: --precision=bf16 on a CPU without" in stream.getvalue()
    assert warned == (not cpu.native_bf16(cpu.cpu_flags()))


def test_measure_peak_reports_the_fraction_of_the_conv_probe(tmp_path):
    log_path = str(tmp_path / "log.json")
    config = tiny_config(log_path=log_path, num_batches=2, measure_peak=True)
    stream = io.StringIO()
    final = runner.run(config, stream=stream)
    params = _entries(log_path)[0]["data"]
    assert params["peak.conv3x3_tflops"] > 0 and params["peak.matmul_tflops"] > 0
    assert params["peak.tflops_per_device"] == params["peak.conv3x3_tflops"]
    assert params["peak.source"] == "measured: 3x3 conv probe"
    assert params["mode"] == "train"  # the report reads the mode from here
    assert final["train.peak_fraction"] == pytest.approx(
        final["train.tflops"] / params["peak.conv3x3_tflops"])
    assert f"({final['train.peak_fraction']:.2f} of the device peak)" in \
        stream.getvalue()
    # The CPU's own limit: numpy's fp32 matmul, and the run's fraction of it.
    assert params["peak.blas_tflops"] > 0
    assert params["peak.blas_matmul_size"] == 4096
    assert params["peak.blas_library"]
    assert params["peak.blas_coretype"] == os.environ.get(
        "OPENBLAS_CORETYPE", "unset (OpenBLAS picks the CPU's kernels)")
    # The hardware's peak: the better of the BLAS's and TensorFlow's matmul.
    assert params["peak.hw_tflops"] == max(params["peak.blas_tflops"],
                                           params["peak.matmul_tflops"])
    assert final["train.hw_peak_fraction"] == pytest.approx(
        final["train.tflops"] / params["peak.hw_tflops"])
    assert ("fraction of the CPU's fp32 peak (its best fp32 matmul): "
            f"{final['train.hw_peak_fraction']:.2f}") in stream.getvalue()
    # The CPU's features are in the same PARAMETER entry.
    flags = cpu.cpu_flags()
    assert params["env.cpu_isa"] == cpu.vector_isa(flags)
    assert params["env.cpu_native_bf16"] == cpu.native_bf16(flags)
    assert params["env.onednn_opts"] == os.environ.get(
        "TF_ENABLE_ONEDNN_OPTS", "unset (TensorFlow's default)")


def test_probe_rates_are_flops_over_time():
    calls = []

    def fn(iters, *args):
        calls.append(int(iters))
        return tf.constant(0.0)
    rate = peak._rate(fn, (), flops_per_call=1e12, repeats=2,
                      target_seconds=0.0)
    assert calls[:2] == [1, 1] and len(calls) == 4
    assert rate > 0


def test_blas_probe_is_flops_over_time_of_numpy_matmul(monkeypatch):
    clock = iter([0.0, 2.0, 10.0, 10.5, 20.0, 21.0])  # 2 s, 0.5 s, 1 s
    monkeypatch.setattr(peak.time, "perf_counter", lambda: next(clock))
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    blas = peak.measure_blas_peak(size=64, repeats=3)
    assert blas.tflops == pytest.approx(2 * 64 ** 3 / 0.5 / 1e12)
    assert blas.threads.startswith("OPENBLAS_NUM_THREADS=1")
    assert blas.coretype == "Haswell"
    ran = peak.Peak(0.2, "measured: 3x3 conv probe", blas=blas)
    metrics = ran.as_metrics()
    assert metrics["peak.blas_tflops"] == metrics["peak.hw_tflops"] == blas.tflops
    assert metrics["peak.blas_coretype"] == "Haswell"
    assert metrics["peak.hw_source"].startswith("numpy's fp32 matmul")
    # Counted once per worker (one CPU each); none without the probe.
    assert peak.fraction_of_hardware_peak(blas.tflops, ran, workers=2) == \
        pytest.approx(0.5)
    assert peak.fraction_of_hardware_peak(1.0, peak.Peak(0.2, "x"), 1) is None
    assert peak.fraction_of_hardware_peak(1.0, None, 1) is None


def test_the_hardware_peak_is_the_better_matmul():
    """A BLAS held back (here by OPENBLAS_CORETYPE on a wider CPU) does not
    halve the hardware's peak: TensorFlow's fp32 matmul counts too."""
    blas = peak.BlasPeak(0.2, "scipy-openblas", 4096, "unset", "Haswell")
    faster_tf = peak.Peak(0.45, "x", matmul_tflops=0.4, blas=blas)
    assert faster_tf.hardware() == (0.4, "TensorFlow's fp32 matmul")
    assert peak.fraction_of_hardware_peak(0.6, faster_tf, 1) == \
        pytest.approx(1.5)
    slower_tf = peak.Peak(0.45, "x", matmul_tflops=0.1, blas=blas)
    assert slower_tf.hardware()[0] == 0.2
    assert peak.Peak(0.45, "x", matmul_tflops=0.4).hardware() is None


def test_known_gpu_peaks_and_the_fraction():
    a100 = peak.known_peak("NVIDIA A100-SXM4-80GB", "bf16")
    assert a100.tflops == 312.0 and "A100" in a100.source
    assert peak.known_peak("NVIDIA A100-SXM4-80GB", "fp32").tflops == 156.0
    assert peak.known_peak("Tesla V100-SXM2-16GB", "bf16") is None  # no bf16
    assert peak.known_peak("Some Future GPU", "fp32") is None
    assert peak.fraction_of_peak(156.0, a100, devices=2) == pytest.approx(0.25)
    assert peak.fraction_of_peak(1.0, None, devices=1) is None
    assert peak.resolve_peak("cpu", "/cpu:0", "AMD EPYC", "fp32", False) is None


ONEDNN_LINES = [
    "onednn_verbose,v1,info,cpu,isa:Intel AVX2",
    "onednn_verbose,v1,primitive,exec,cpu,convolution,brg_conv_fwd:avx2,"
    "forward_training,src:f32::blocked:acdb::f0 wei:f32:a:blocked:Acdb16a::f0 "
    "bia:undef::undef::: dst:f32::blocked:acdb::f0,attr-scratchpad:user,"
    "alg:convolution_direct,mb2_ic32oc32,0.5",
    "onednn_verbose,v1,primitive,exec,cpu,reorder,jit:uni,undef,src:f32::blocked:"
    "cdba::f0 dst:f32::blocked:Acdb16a::f0,,,32x32x3x3,0.25",
    "onednn_verbose,v1,primitive,exec,cpu,gemm_api,,undef,src_f32::blocked:ab:f0 "
    "wei_f32::blocked:ab:f0 dst_f32::blocked:ab:f0,,,120x288:288x32,12.2",
    "onednn_verbose,exec,cpu,convolution,brgconv:avx512_core_amx_bf16,"
    "forward_training,src_bf16::blocked:acdb:f0 wei_bf16::blocked:Acdb:f0 "
    "bia_undef::undef::f0 dst_bf16::blocked:acdb:f0,,alg:convolution_direct,"
    "mb32,1.0",
]


def test_onednn_verbose_lines_are_parsed():
    found = onednn.parse_verbose(ONEDNN_LINES)
    assert [(p.kind, p.implementation, p.dtypes) for p in found] == [
        ("convolution", "brg_conv_fwd:avx2", ("f32",)),
        ("gemm_api", "", ("f32",)),
        ("convolution", "brgconv:avx512_core_amx_bf16", ("bf16",))]
    assert [p.is_bf16 for p in found] == [False, False, True]


def test_kernel_check_on_this_cpu():
    report = onednn.check_kernels("bf16")
    assert report.primitives, "no oneDNN primitive parsed from a real run"
    text = report.summary()
    assert text.startswith("precision bf16; CPU native bf16")
    if not report.cpu_native_bf16:
        # What the bf16 warning says: nothing ran in bf16 here.
        assert report.bf16_primitives == ()
        assert "NO bf16 kernel ran" in text


@pytest.mark.parametrize("mode,environ,machine,want", [
    ("auto", {}, "x86_64", "1"),
    ("auto", {}, "aarch64", None),  # TensorFlow's default there
    ("auto", {"TF_ENABLE_ONEDNN_OPTS": "0"}, "x86_64", "0"),  # the user's
    ("on", {"TF_ENABLE_ONEDNN_OPTS": "0"}, "aarch64", "1"),
    ("off", {}, "x86_64", "0"),
])
@pytest.mark.parametrize("allocator", [None, "1"])
def test_onednn_setting(mode, environ, machine, want, allocator):
    """The allocator stays TensorFlow's default (oneDNN's pool) or the
    user's choice."""
    environ = dict(environ)
    if allocator:
        environ["TF_ONEDNN_USE_SYSTEM_ALLOCATOR"] = allocator
    assert cpu.configure_onednn(mode, environ, machine) == want
    assert environ.get("TF_ENABLE_ONEDNN_OPTS") == want
    assert environ.get("TF_ONEDNN_USE_SYSTEM_ALLOCATOR") == allocator


@pytest.mark.parametrize("requested,kw,want", [
    ("auto", {}, "winograd"),
    ("auto", {"onednn": False}, "direct"),
    ("auto", {"device_kind": "gpu"}, "direct"),
    ("auto", {"precision": "bf16"}, "direct"),
    ("auto", {"precision": "fp16"}, "direct"),
    ("auto", {"xla": True}, "direct"),
    ("auto", {"data_format": "channels_first"}, "direct"),
    ("direct", {}, "direct"),
    ("winograd", {"device_kind": "gpu"}, "winograd"),  # asked for: given
])
def test_conv_algorithm_choice(requested, kw, want):
    args = dict(device_kind="cpu", precision="fp32", xla=False,
                data_format="channels_last", onednn=True)
    args.update(kw)
    assert device_choices.resolve_conv_algorithm(requested, **args) == want


@pytest.mark.parametrize("requested,kw,want", [
    ("auto", {}, "gemm"),
    ("auto", {"onednn": False}, "native"),
    ("auto", {"device_kind": "gpu"}, "native"),
    ("auto", {"precision": "bf16"}, "native"),
    ("auto", {"xla": True}, "native"),
    ("auto", {"data_format": "channels_first"}, "native"),
    ("auto", {"avx512": True}, "native"),  # oneDNN's AVX-512 kernel is fast
    ("native", {}, "native"),
    ("gemm", {"device_kind": "gpu"}, "gemm"),  # asked for: given
])
def test_filter_gradient_choice(requested, kw, want):
    args = dict(device_kind="cpu", precision="fp32", xla=False,
                data_format="channels_last", onednn=True, avx512=False)
    args.update(kw)
    assert device_choices.resolve_filter_gradient(requested, **args) == want


@pytest.mark.parametrize("requested,kw,want", [
    ("auto", {}, "batch_matmul"),
    ("auto", {"onednn": False}, "native"),
    ("auto", {"device_kind": "gpu"}, "native"),
    ("auto", {"precision": "bf16"}, "native"),
    ("auto", {"xla": True}, "native"),
    ("native", {}, "native"),
    ("batch_matmul", {"device_kind": "gpu"}, "batch_matmul"),  # asked for
])
def test_dense_gradient_choice(requested, kw, want):
    args = dict(device_kind="cpu", precision="fp32", xla=False, onednn=True)
    args.update(kw)
    assert device_choices.resolve_dense_gradient(requested, **args) == want
