"""Stage 1, profile: the layer structures in the paper's scope (space), the network families'
shapes (families), their LiteRT graphs (export) and the instrument that times them on every
device kind (devices). Imports only the bottom modules (fdi.timings, fdi.atomic)."""
