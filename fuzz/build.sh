#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/targets/ into .build-fuzz/fuzzers/ (png, jpeg,
# safetensors, boxes-csv, cub-lists, config), each with AddressSanitizer and coverage.
#
#   bash fuzz/build.sh            # or `make fuzz`, which builds and then runs fuzz/run.sh
#
# How: SwiftPM compiles the package's library modules (Tensor, DDP, Imaging, Carve and the C
# shims) with coverage and ASan into .build-fuzz (`-Xswiftc -sanitize=fuzzer,address` for Swift;
# `--sanitize fuzzer --sanitize address` would not do: it passes two -sanitize flags and swiftc
# keeps only the last, so the Swift code got no coverage). Then swiftc links each target file with
# Support.swift, those object files and libFuzzer (`-sanitize=fuzzer` supplies main). The
# package's executables are not built: libFuzzer's main and theirs would clash. libpng,
# libjpeg-turbo, OpenBLAS and MPI are the system's, uninstrumented: coverage steers through
# Carve's code (shims, readers, parsers) and ASan checks it and every malloc/free, not the inside
# of libpng or libjpeg.
set -euo pipefail
cd "$(dirname "$0")/.."

SCRATCH=.build-fuzz
SWIFT=${SWIFT:-swift}
TARGETS=(png jpeg safetensors boxes-csv cub-lists config)

"$SWIFT" build -c release --scratch-path "$SCRATCH" --target Carve \
    -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address
BIN=$("$SWIFT" build -c release --scratch-path "$SCRATCH" --show-bin-path)

# The C modules the Swift modules import, as SwiftPM passes them to swiftc.
cflags=(-I "$BIN/Modules")
for shim in PNGShim JPEGShim MPIShim; do
    cflags+=(-Xcc "-fmodule-map-file=$BIN/$shim.build/module.modulemap" -Xcc -I -Xcc "Sources/$shim/include")
done
cflags+=(-Xcc -fmodule-map-file=Sources/CBLAS/module.modulemap -Xcc -fmodule-map-file=Sources/COpenMPI/module.modulemap)
for flag in $(pkg-config --cflags-only-I openblas ompi-c); do cflags+=(-Xcc "$flag"); done
libs=()
for flag in $(pkg-config --libs-only-L openblas ompi-c); do libs+=("$flag"); done
libs+=(-lpng16 -ljpeg -lopenblas -lmpi)

# The objects of the modules' current sources (a build folder keeps the objects of deleted files:
# the output-file-map names only those of this build), and the shims' C objects.
objects=()
for module in Tensor DDP Imaging Carve; do
    while IFS= read -r object; do
        [[ -f $object ]] && objects+=("$object")
    done < <(grep -o '"object" *: *"[^"]*"' "$BIN/$module.build/output-file-map.json" | sed 's/.*: *"//; s/"$//')
done
for shim in PNGShim JPEGShim MPIShim; do objects+=("$BIN/$shim.build/$shim.c.o"); done

mkdir -p "$SCRATCH/fuzzers"
for target in "${TARGETS[@]}"; do
    echo "linking $SCRATCH/fuzzers/$target"
    swiftc -O -parse-as-library -sanitize=fuzzer,address -module-name "fuzz_${target//-/_}" \
        "${cflags[@]}" fuzz/targets/Support.swift "fuzz/targets/$target.swift" "${objects[@]}" \
        "${libs[@]}" -o "$SCRATCH/fuzzers/$target"
done
