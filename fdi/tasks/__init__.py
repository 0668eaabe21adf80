"""The paper's tasks on real data (SPEC §4): a VGG-16-shaped network on 32x32x3 images and DeepSense
on inertial sensors. `artefact` prepares a data set once into a checksummed `.npz`; `images` and
`inertial` read the raw formats; `train` trains a family's network on a prepared artefact."""
