// Shared by the fuzz targets (compiled into each one by fuzz/build.sh): the input as a file on
// tmpfs for the readers that take a path, the input as text, the checks of a decoded image, and a
// failure that libFuzzer records.
import Foundation
import Imaging

/// One file per fuzzer process on tmpfs (/dev/shm), rewritten for every input and removed at exit.
///
/// The image readers take a path (libpng and libjpeg read through a FILE*), so the fuzzer writes
/// each input to this file and calls the real `Image.read(path:)`: the library gains no
/// bytes-only entry point that production never uses, and the path tested is the one a user's
/// file takes (format sniffing, fopen, the C shim). On tmpfs a write costs a few microseconds,
/// well under one decode.
enum FuzzFile {
    nonisolated(unsafe) private static var path: String? = nil

    /// Writes `data` to the process's tmpfs file and returns its path.
    static func write(_ data: UnsafePointer<UInt8>, _ size: Int, name: String) -> String {
        let file = path ?? {
            let folder = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
            let made = "\(folder)/carve-fuzz-\(name)-\(getpid())"
            path = made
            atexit { if let p = FuzzFile.path { unlink(p) } }
            return made
        }()
        guard let handle = fopen(file, "wb") else { fail("cannot create \(file): \(String(cString: strerror(errno)))") }
        if size > 0 && fwrite(data, 1, size, handle) != size { fail("cannot write \(file)") }
        fclose(handle)
        return file
    }
}

/// The input decoded as UTF-8 (invalid sequences become U+FFFD), as `readText` reads list files.
func text(_ data: UnsafePointer<UInt8>, _ size: Int) -> String {
    String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
}

/// The input split at its first NUL byte: (before, after); after is nil without a NUL.
func splitAtNUL(_ data: UnsafePointer<UInt8>, _ size: Int) -> (String, String?) {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    guard let nul = bytes.firstIndex(of: 0) else { return (text(data, size), nil) }
    return (String(decoding: bytes[..<nul], as: UTF8.self), String(decoding: bytes[(nul + 1)...], as: UTF8.self))
}

/// A broken property: one line on stderr, then abort, which libFuzzer records as a crash with
/// the input saved.
func fail(_ message: String) -> Never {
    fputs("fuzz property failed: \(message)\n", stderr)
    abort()
}

/// A decoded image keeps Image's contract (`channels` planes of height × width values in [0, 1]),
/// and, when small, goes through what the data loaders do with it (gray/RGB, an fg box crop
/// resized as FgDataset.crop does, a plain resize) with values staying in [0, 1].
func checkDecoded(_ image: Image, channels allowed: ClosedRange<Int>, format: String) {
    guard allowed.contains(image.channels), image.width >= 1, image.height >= 1,
          image.pixels.count == image.channels * image.height * image.width
    else { fail("\(format) read as \(image.channels) × \(image.height) × \(image.width), \(image.pixels.count) values") }
    if let bad = image.pixels.first(where: { !($0 >= 0 && $0 <= 1) }) { fail("\(format) pixel value \(bad) outside [0, 1]") }
    guard image.width * image.height <= 1 << 16 else { return }
    let box = Box(x: Double(image.width) / 4, y: Double(image.height) / 3,
                  w: Double(image.width) / 2 + 0.5, h: Double(image.height) / 2 + 0.5)
    let w = box.pixelWindow(width: image.width, height: image.height)
    for derived in [image.rgb().region(x: w.x, y: w.y, width: w.w, height: w.h, resizedTo: 8, 8),
                    image.gray().resized(height: 3, width: 5)] {
        if let bad = derived.pixels.first(where: { !($0 >= 0 && $0 <= 1) }) {
            fail("\(format) \(image.channels) × \(image.height) × \(image.width): crop or resize value \(bad) outside [0, 1]")
        }
    }
}
