/// Carve's version, printed by `carve --version` and stored in every run's config.json.
public let carveVersion = "0.1.0"
