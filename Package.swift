// swift-tools-version:6.0
// Carve: the independence prior (instance providers, layout, composition, GAN) on CPUs,
// data-parallel over MPI. Module map and import direction: ../shared/DESIGN.md.
import PackageDescription

let package = Package(
    name: "carve",
    products: [
        .executable(name: "carve", targets: ["Apps"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.0"),
    ],
    targets: [
        // System libraries found by pkg-config; they only carry compiler and linker flags.
        .systemLibrary(name: "COpenMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        // C shims: the only files that include <mpi.h>, <png.h> and <jpeglib.h>.
        .target(name: "MPIShim", dependencies: ["COpenMPI"]),
        .target(name: "PNGShim", linkerSettings: [.linkedLibrary("png16")]),
        .target(name: "JPEGShim", linkerSettings: [.linkedLibrary("jpeg")]),

        .target(name: "Tensor", dependencies: ["CBLAS"]),
        .target(name: "DDP", dependencies: ["Tensor", "MPIShim"]),
        .target(name: "Imaging", dependencies: ["PNGShim", "JPEGShim", "Tensor"], resources: [.copy("Resources")]),
        .target(name: "Carve", dependencies: ["Tensor", "DDP", "Imaging"]),
        .executableTarget(
            name: "Apps",
            dependencies: ["Carve", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .target(name: "TestSupport", dependencies: ["Tensor"]),

        .testTarget(name: "TensorTests", dependencies: ["Tensor", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "DDPTests", dependencies: ["DDP", "TestSupport"]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "CarveTests", dependencies: ["Carve", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "AppsTests", dependencies: ["TestSupport"]),
        // Run under a real mpirun by launch/test-mpi.sh (make test); exits non-zero on failure.
        .executableTarget(name: "mpi-tests", dependencies: ["DDP", "TestSupport"], path: "Tests/MPITests"),
    ]
)
