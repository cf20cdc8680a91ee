"""Which kernels really ran: oneDNN's verbose log, read back.

bf16 is only fast where the CPU computes in bf16 (AVX512_BF16, AMX).  A
Keras mixed_bfloat16 policy gives bf16 tensors whatever the CPU; whether a
bf16 convolution then runs as a oneDNN bf16 primitive, or as fp32 arithmetic
on converted data, shows only in what the library executed.  check_kernels
runs a small training step of convolution and dense layers in a child process
with ONEDNN_VERBOSE=1 and reports each executed primitive's data types.
"""

import os
import re
import subprocess
import sys
from dataclasses import dataclass

from benchmarks.machine.cpu import cpu_flags, native_bf16

# The child: a conv + pool + dense model's training step in the policy of
# the precision asked, run twice inside one tf.function (as the harness does).
_PROBE = r"""
import sys
import keras, tensorflow as tf
policy = {"fp32": "float32", "bf16": "mixed_bfloat16",
          "fp16": "mixed_float16"}[sys.argv[1]]
keras.mixed_precision.set_global_policy(policy)
model = keras.Sequential([
    keras.Input((16, 16, 32)),
    keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
    keras.layers.MaxPooling2D(), keras.layers.Flatten(),
    keras.layers.Dense(10)])
opt = keras.optimizers.SGD(0.01)
x = tf.random.uniform((4, 16, 16, 32)); y = tf.constant([1, 2, 3, 4])
@tf.function
def step():
    with tf.GradientTape() as tape:
        logits = tf.cast(model(x, training=True), tf.float32)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
    grads = tape.gradient(loss, model.trainable_variables)
    opt.apply_gradients(zip(grads, model.trainable_variables))
    return loss
for _ in range(2):
    step().numpy()
print("PROBE_DONE")
"""


@dataclass(frozen=True)
class Primitive:
    kind: str            # convolution, inner_product, matmul, gemm_api, ...
    implementation: str  # e.g. brg_conv_fwd:avx512_core_amx_bf16, gemm:jit
    dtypes: tuple        # data types named in its memory descriptors

    @property
    def is_bf16(self):
        return "bf16" in self.dtypes


_COMPUTE = ("convolution", "inner_product", "matmul", "gemm_api", "deconvolution")
# A memory descriptor's data type: "src:f32::blocked..." or "src_bf16::...".
_MEMORY_DTYPE = re.compile(r"(?:^|\s)(?:diff_)?(?:src|wei|dst|bia)[:_]([a-z0-9]+)")


def parse_verbose(lines):
    """Executed compute primitives from ``onednn_verbose`` lines, in the
    layout of oneDNN 3 (``onednn_verbose,v1,primitive,exec,cpu,<kind>,<impl>,
    <prop>,<memory descriptors>,...``) or before (no ``v1,primitive``)."""
    found = []
    for line in lines:
        if not line.startswith("onednn_verbose,"):
            continue
        fields = line.strip().split(",")
        if "exec" not in fields:
            continue
        i = fields.index("exec")  # then: engine, kind, impl, prop, memory
        if len(fields) < i + 6 or fields[i + 2] not in _COMPUTE:
            continue
        dtypes = tuple(sorted(set(_MEMORY_DTYPE.findall(fields[i + 5]))
                              - {"undef"}))
        found.append(Primitive(fields[i + 2], fields[i + 3], dtypes))
    return found


@dataclass(frozen=True)
class KernelReport:
    precision: str
    cpu_native_bf16: bool
    primitives: tuple
    onednn_opts: str

    @property
    def bf16_primitives(self):
        return tuple(p for p in self.primitives if p.is_bf16)

    def summary(self):
        kinds = sorted({(p.kind, p.implementation, "/".join(p.dtypes))
                        for p in self.primitives})
        lines = [f"precision {self.precision}; CPU native bf16 (AVX512_BF16 or "
                 f"AMX_BF16): {'yes' if self.cpu_native_bf16 else 'no'}; "
                 f"TF_ENABLE_ONEDNN_OPTS={self.onednn_opts}"]
        lines += [f"  ran {k} {impl} ({dt})" for k, impl, dt in kinds]
        if not kinds:
            lines.append("  no oneDNN compute primitive ran (Eigen kernels)")
        if self.precision == "bf16":
            verdict = ("bf16 kernels ran" if self.bf16_primitives else
                       "NO bf16 kernel ran: bf16 tensors are computed by fp32 "
                       "kernels after conversion")
            lines.append(f"verdict: {verdict}")
        return "\n".join(lines)


def check_kernels(precision="bf16", env=None, timeout=300):
    """Runs the probe step in a child with ONEDNN_VERBOSE=1 and returns a
    KernelReport of what oneDNN executed."""
    child_env = dict(os.environ if env is None else env)
    child_env["ONEDNN_VERBOSE"] = "1"
    child_env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    result = subprocess.run([sys.executable, "-c", _PROBE, precision],
                            capture_output=True, text=True, env=child_env,
                            timeout=timeout)
    if result.returncode != 0 or "PROBE_DONE" not in result.stdout:
        raise RuntimeError("the kernel probe failed: " +
                           (result.stderr.strip().splitlines() or ["?"])[-1])
    return KernelReport(precision, native_bf16(cpu_flags()),
                        tuple(parse_verbose(result.stdout.splitlines())),
                        child_env.get("TF_ENABLE_ONEDNN_OPTS", "unset"))
