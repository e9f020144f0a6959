// libFuzzer target: the configuration parser. The input is configuration JSON (config.json, a
// checkpoint's `config`, `carve train --config FILE`), optionally a NUL byte and `key=value`
// lines (`--set`). Configuration.fromJSON, then applying(lines) to its result (or to the tiny
// preset when the JSON was refused). A ConfigurationError is a correct answer; a configuration
// that was accepted must write its JSON and read back equal (what resume relies on).
// Built by fuzz/build.sh, run by fuzz/run.sh.
import Carve
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let (json, sets) = splitAtNUL(data, size)
    let parsed = try? Configuration.fromJSON(json)
    if let parsed { roundTrip(parsed) }
    guard let sets else { return 0 }
    let base = parsed ?? (try! Presets.named("tiny"))
    let overrides = sets.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    if let applied = try? base.applying(overrides) { roundTrip(applied) }
    return 0
}

/// config.json written and read back is the same configuration, with the same hash.
func roundTrip(_ config: Configuration) {
    let text = config.json(pretty: true)
    let back: Configuration
    do { back = try Configuration.fromJSON(text) } catch { fail("config.json of an accepted configuration is refused: \(error)") }
    guard back == config, back.hash == config.hash else { fail("configuration changes through its JSON: \(text)") }
}
