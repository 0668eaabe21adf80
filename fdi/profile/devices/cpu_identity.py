"""Which CPU a timing ran on, beyond its model name.

Why: a cloud VM's `model name` is often masked ("AMD EPYC" on this project's VMs), so two CPU
generations with different vector units, caches and timings read the same, and their time models
would share a registry key. `/proc/cpuinfo` still gives the vendor, family, model and stepping (x86)
or implementer, part and revision (Arm), and the vector extensions LiteRT's XNNPACK kernels are
chosen by; both go into the fingerprint, and the identity into the registry key.
"""

from __future__ import annotations

# x86 flags and Arm features that select XNNPACK's kernels (as /proc/cpuinfo spells them)
VECTOR_EXTENSIONS = (
    # x86
    "sse4_1",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "avx_vnni",
    "amx_int8",
    # Arm
    "asimd",
    "asimdhp",
    "asimddp",
    "i8mm",
    "bf16",
    "sve",
    "sve2",
    "sme",
)
X86_FIELDS = ("vendor_id", "cpu family", "model", "stepping")
ARM_FIELDS = ("CPU implementer", "CPU part", "CPU variant", "CPU revision")


def _first_block(cpuinfo: str) -> dict[str, str]:
    """The first processor's `key: value` lines (every core of a VM or a phone's cluster reads alike
    for what is kept here; a big.LITTLE phone is timed on the cores its settings pin)."""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, colon, value = line.partition(":")
        key = key.strip()
        if not colon:
            continue
        if key == "processor" and fields.get("processor") is not None:
            break
        fields.setdefault(key, value.strip())
    return fields


def cpu_identity(cpuinfo: str) -> dict[str, str]:
    """`cpu_id` (x86: "AuthenticAMD family 26 model 2 stepping 1"; Arm: "implementer 0x41 part
    0xd08 variant 0x0 revision 3"; "unreadable" otherwise) and `vector_extensions` (those of
    VECTOR_EXTENSIONS the CPU reports, space-separated, in that order)."""
    fields = _first_block(cpuinfo)
    if all(fields.get(key) for key in X86_FIELDS):
        vendor, family, model, stepping = (fields[key] for key in X86_FIELDS)
        cpu_id = f"{vendor} family {family} model {model} stepping {stepping}"
    elif all(fields.get(key) for key in ARM_FIELDS[:2]):
        parts = [f"{key.split()[1].lower()} {fields[key]}" for key in ARM_FIELDS if fields.get(key)]
        cpu_id = " ".join(parts)
    else:
        cpu_id = "unreadable"
    flags = set((fields.get("flags") or fields.get("Features") or "").split())
    return {
        "cpu_id": cpu_id,
        "vector_extensions": " ".join(name for name in VECTOR_EXTENSIONS if name in flags) or "none read",
    }


def short_cpu_id(cpu_id: str) -> str:
    """The identity as a registry key part (the stepping left out: a revision of one design):
    "AuthenticAMD family 26 model 2 stepping 1" -> "family26-model2"; Arm "implementer 0x41 part
    0xd08 ..." -> "0x41-0xd08"; "" when unreadable."""
    words = cpu_id.split()
    if cpu_id.startswith("implementer") and len(words) >= 4:
        return f"{words[1]}-{words[3]}"
    if len(words) == 7 and words[1::2] == ["family", "model", "stepping"]:
        return f"family{words[2]}-model{words[4]}"
    return ""
