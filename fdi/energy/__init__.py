"""Energy per inference: external meters' traces and in-band readings (RAPL, a phone's battery
gauge, taken during the benchmark by fdi.profile.devices.energy_probes), integrated over the
benchmark's timed blocks."""
