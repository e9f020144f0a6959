import DDP
import Foundation

/// `carve train` for the fg application (foreground segmentation with data distillation).
struct FgTrainer {
    let config: Configuration
    let options: TrainOptions
    let communicator: any Communicator

    func train() throws -> RunSummary {
        throw ConfigurationError("preset \(config.preset): the fg trainer (UNet provider, background pool, distillation) is not available in this build yet; use a hoc preset")
    }
}
