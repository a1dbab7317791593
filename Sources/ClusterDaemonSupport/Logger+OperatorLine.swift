// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import Logging

extension Logger {
    /// Logs a line a core worded for the operator, at its level.
    public func log(_ line: OperatorLine) {
        switch line.level {
        case .info: info("\(line.text)")
        case .notice: notice("\(line.text)")
        case .warning: warning("\(line.text)")
        case .error: error("\(line.text)")
        }
    }
}
