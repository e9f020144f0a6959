import JPEGShim
import PNGShim

/// The libpng version Carve's PNG reader and writer were built against.
public var libpngVersion: String { String(cString: carve_png_version()) }

/// The libjpeg-turbo version Carve's JPEG reader was built against, e.g. "2.1.5 (libjpeg API 62)".
public var libjpegVersion: String { String(cString: carve_jpeg_version()) }
