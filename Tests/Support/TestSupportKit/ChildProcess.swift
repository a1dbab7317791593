// SPDX-License-Identifier: Apache-2.0
import ClusterIPC
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Paths of the executables this package builds, next to the test bundle.
public enum TestBinaries {
    public static var directory: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
    }

    public static func path(_ name: String) -> String { directory + "/" + name }

    /// The repository root, from this file's location.
    public static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path
    }()
}

/// A unique name for IPC services and directories in one test run.
public func uniqueName(_ prefix: String) -> String {
    "\(prefix)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
}

/// A fresh temporary directory.
public func makeTemporaryDirectory(_ prefix: String = "cluster-test") throws -> String {
    let path = NSTemporaryDirectory() + uniqueName(prefix)
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

public struct ChildProcessError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// A child process with its stdout and stderr captured, bounded in time, killed when dropped.
public final class ChildProcess: @unchecked Sendable {
    public let process = Process()
    private let outPipe = Pipe()
    private let errPipe = Pipe()
    private var outBuffer: [UInt8] = []
    private var errBuffer: [UInt8] = []
    public let commandLine: String

    private var inPipe: Pipe?

    /// Starts `executable`. With `stdin`, the child reads what `write(_:)` sends; otherwise it reads /dev/null.
    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], stdin: Bool = false) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["SWIFT_BACKTRACE"] = "enable=no"
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardOutput = outPipe
        process.standardError = errPipe
        if stdin {
            let p = Pipe()
            inPipe = p
            process.standardInput = p
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        commandLine = ([executable] + arguments).joined(separator: " ")
        try process.run()
        for fd in [outPipe.fileHandleForReading.fileDescriptor, errPipe.fileHandleForReading.fileDescriptor] {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            if !exited(within: .seconds(5)) { reapDirectly() }
            StaleRingBuffers.sweep(involving: [pid]) // its connections to processes killed with it
        }
    }

    /// Waits (bounded) for Foundation to see the child's exit.
    private func exited(within limit: Duration) -> Bool {
        let deadline = ContinuousClock.now + limit
        while process.isRunning {
            if ContinuousClock.now > deadline { return false }
            usleep(2_000)
        }
        return true
    }

    /// Foundation can miss a SIGCHLD when many children die at once, and its waitUntilExit then spins for ever on
    /// the zombie: reap it here instead.
    private func reapDirectly() {
        var status: Int32 = 0
        _ = waitpid(process.processIdentifier, &status, WNOHANG)
    }

    public var pid: Int32 { process.processIdentifier }

    public var isRunning: Bool { process.isRunning }

    /// Everything read from stdout so far.
    public var stdout: String {
        drain()
        return String(decoding: outBuffer, as: UTF8.self)
    }

    /// Everything read from stderr so far.
    public var stderr: String {
        drain()
        return String(decoding: errBuffer, as: UTF8.self)
    }

    private func drain() {
        func read(_ fd: Int32, into buffer: inout [UInt8]) {
            var chunk = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { return }
                buffer += chunk[0..<n]
            }
        }
        read(outPipe.fileHandleForReading.fileDescriptor, into: &outBuffer)
        read(errPipe.fileHandleForReading.fileDescriptor, into: &errBuffer)
    }

    /// Waits until stdout contains `text`, or fails after `timeout`.
    public func waitForOutput(_ text: String, timeout: Duration = .seconds(10)) throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if stdout.contains(text) { return }
            if !process.isRunning {
                if stdout.contains(text) { return }
                throw ChildProcessError("\(commandLine) exited (\(process.terminationStatus)) before printing '\(text)'; stdout: \(stdout) stderr: \(stderr)")
            }
            usleep(5_000)
        }
        throw ChildProcessError("\(commandLine) did not print '\(text)' within \(timeout); stdout: \(stdout) stderr: \(stderr)")
    }

    /// Waits for the process to exit, killing it after `timeout`. Returns the exit status.
    @discardableResult
    public func wait(timeout: Duration = .seconds(30)) throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline {
                kill(pid, SIGKILL)
                if !exited(within: .seconds(5)) { reapDirectly() }
                throw ChildProcessError("\(commandLine) did not finish within \(timeout); stdout: \(stdout) stderr: \(stderr)")
            }
            drain()
            usleep(2_000)
        }
        process.waitUntilExit()
        drain()
        // Killed, it could not close its IPC connections; if its peers died too, their ring buffers are left.
        if process.terminationReason == .uncaughtSignal { StaleRingBuffers.sweep(involving: [pid]) }
        return process.terminationStatus
    }

    public func signal(_ sig: Int32) { kill(pid, sig) }

    /// Writes `text` to the child's stdin.
    public func write(_ text: String) {
        inPipe?.fileHandleForWriting.write(Data(text.utf8))
    }

    /// The stdout lines so far.
    public var lines: [String] { stdout.split(separator: "\n").map(String.init) }

    /// Runs a command to completion and returns (status, stdout, stderr).
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           timeout: Duration = .seconds(60)) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = try ChildProcess(executable, arguments, environment: environment)
        let status = try p.wait(timeout: timeout)
        return (status, p.stdout, p.stderr)
    }
}
