"""The CPU's identity behind a masked model name, read from /proc/cpuinfo, and the registry key it
goes into."""

from pathlib import Path

from fdi.profile.devices.cpu_identity import cpu_identity, short_cpu_id
from fdi.timemodel.registry import registry_key

FIXTURES = Path(__file__).parent / "fixtures" / "cpuinfo"

# Hand-written in the layout of a Raspberry Pi 4's /proc/cpuinfo (Cortex-A72: implementer 0x41,
# part 0xd08; no dot product): synthetic, not recorded.
SYNTHETIC_ARM = """processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x0
CPU part\t: 0xd08
CPU revision\t: 3

processor\t: 1
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid asimddp
CPU implementer\t: 0x41
CPU part\t: 0xd05

Hardware\t: BCM2835
Model\t\t: Raspberry Pi 4 Model B Rev 1.4
"""


def test_a_masked_x86_model_name_still_yields_family_model_and_vector_units():
    identity = cpu_identity((FIXTURES / "amd-epyc-family26-vm.txt").read_text())
    assert identity["cpu_id"] == "AuthenticAMD family 26 model 2 stepping 1"
    assert identity["vector_extensions"] == (
        "sse4_1 avx avx2 fma f16c avx512f avx512bw avx512vl avx512_vnni avx512_bf16 avx_vnni"
    )
    assert short_cpu_id(identity["cpu_id"]) == "family26-model2"


def test_an_arm_cpu_is_named_by_its_first_core_implementer_and_part():
    identity = cpu_identity(SYNTHETIC_ARM)
    assert identity == {
        "cpu_id": "implementer 0x41 part 0xd08 variant 0x0 revision 3",
        "vector_extensions": "asimd",
    }
    assert short_cpu_id(identity["cpu_id"]) == "0x41-0xd08"


def test_nothing_readable_says_so():
    assert cpu_identity("") == {"cpu_id": "unreadable", "vector_extensions": "none read"}
    assert short_cpu_id("unreadable") == ""


def test_two_cpu_generations_behind_one_model_name_get_two_registry_keys():
    host = {
        "device_kind": "host",
        "cpu_model": "AMD EPYC",
        "os": "Linux-6.18.44-fc-v1045-x86_64-with-glibc2.36",
        "runtime": "ai-edge-litert",
        "runtime_version": "2.3.0",
        "threads": 1,
    }
    zen5 = {**host, "cpu_id": "AuthenticAMD family 26 model 2 stepping 1"}
    zen3 = {**host, "cpu_id": "AuthenticAMD family 25 model 1 stepping 1"}
    assert registry_key(zen5) == (
        "AMD-EPYC-family26-model2__Linux-6.18.44-fc-v1045-x86-64-with-glibc2.36__ai-edge-litert-2.3.0__1threads"
    )
    assert registry_key(zen5) != registry_key(zen3)
    # a fingerprint recorded before the identity was (no cpu_id) keeps its old key
    assert registry_key(host).startswith("AMD-EPYC__")
