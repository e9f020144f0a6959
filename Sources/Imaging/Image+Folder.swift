// Which files in a folder are images: every reader that scans a folder (fg pre-cropped folders,
// background pools, hoc folders, box crops, `carve segment --images`) uses this one rule.
import Foundation

extension Image {
    /// The file extensions folder scans take as images, lower-case: `Image.read(path:)` itself
    /// goes by the file's first bytes, not by its name.
    public static let readableExtensions: Set<String> = ["png", "jpg", "jpeg"]

    /// True for a file name a folder scan should read: `.png`, `.jpg` or `.jpeg` in any case, and
    /// not hidden (no leading dot, so macOS `._x.png` files and `.x.png.tmp` are skipped).
    ///
    /// ```swift
    /// Image.isReadableImageName("Black_Footed_Albatross_0001_796111.JPG")   // true
    /// Image.isReadableImageName("boxes.csv")                               // false
    /// ```
    ///
    /// - Parameter name: a file name (a path works too; only its last component is looked at).
    public static func isReadableImageName(_ name: String) -> Bool {
        let last = (name as NSString).lastPathComponent
        return !last.hasPrefix(".") && readableExtensions.contains((last as NSString).pathExtension.lowercased())
    }

    /// The sorted names of the image files directly in `folder` (see `isReadableImageName(_:)`).
    ///
    /// A JPEG whose stem also names a PNG in the folder (`a.jpg` beside `a.png`) is left out:
    /// the PNG is taken to be its lossless conversion (Carve read PNG only before it read JPEG,
    /// and told users to convert next to the originals), so the picture is not loaded twice.
    ///
    /// ```swift
    /// let names = try Image.imageNames(inFolder: "backgrounds")   // ["a.png", "b.JPG", "c.jpeg"]
    /// let images = try names.map { try Image.read(path: "backgrounds/" + $0) }
    /// ```
    ///
    /// - Parameter folder: the folder; subfolders are not entered.
    /// - Throws: `ImageError.cannotOpen` naming the folder when it cannot be listed.
    public static func imageNames(inFolder folder: String) throws -> [String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder)
        } catch {
            throw ImageError.cannotOpen(path: folder, reason: "cannot list the folder")
        }
        let images = names.filter(isReadableImageName)
        let pngStems = Set(images.filter { ($0 as NSString).pathExtension.lowercased() == "png" }
            .map { ($0 as NSString).deletingPathExtension })
        return images.filter {
            ($0 as NSString).pathExtension.lowercased() == "png" || !pngStems.contains(($0 as NSString).deletingPathExtension)
        }.sorted()
    }
}
