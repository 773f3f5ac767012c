import ArgumentParser
import Foundation

/// `--color auto|always|never` for the commands that colour (ls's states, watch's pinned bars); `auto`
/// colours a terminal unless NO_COLOR is set (https://no-color.org) or TERM is dumb.
struct ColorOption: ParsableArguments {
    enum When: String, ExpressibleByArgument, CaseIterable {
        case auto, always, never
    }

    @Option(name: .customLong("color"), help: ArgumentHelp("Colour: auto (a terminal, unless NO_COLOR is set), always or never.", valueName: "when"))
    var when: When = .auto

    func wanted(on fd: Int32) -> Bool {
        switch self.when {
        case .always: true
        case .never: false
        case .auto:
            isatty(fd) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"].map(\.isEmpty) ?? true
                && ProcessInfo.processInfo.environment["TERM"] != "dumb"
        }
    }
}
