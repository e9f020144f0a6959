// Carve re-exports Imaging (images, data sets, synthetic data) so that Apps, which may import
// only Carve and ArgumentParser (docs/ARCHITECTURE.md, "Module map"), can reach it.
@_exported import Imaging
// Likewise the communicators (for `carve train` under mpirun) and the Tensor engine (benchmarks).
@_exported import DDP
@_exported import Tensor
