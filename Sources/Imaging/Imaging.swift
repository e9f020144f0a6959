import PNGShim

/// The libpng version Carve's PNG reader and writer were built against.
public var libpngVersion: String { String(cString: carve_png_version()) }
