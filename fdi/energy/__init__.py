"""Energy per inference: in-band probes (RAPL, a phone's battery gauge), external meters' traces,
and their integration over the benchmark's timed blocks. Imports nothing heavy at package level:
fdi.energy.probes runs inside the measuring instrument."""
