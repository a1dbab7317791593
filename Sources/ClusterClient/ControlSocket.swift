// SPDX-License-Identifier: Apache-2.0
import Dispatch
import Glibc

/// A control daemon's administrative socket (what `dlm_tool` talks to): a Unix stream socket in the node's run
/// directory, root only, one request line per connection, answered with a status line and a body.
///
///     request  := word (" " word)* "\n"
///     response := ("ok" | "error " message) "\n" body
///
/// The daemon side (`ControlSocket.Listener`) hands each request to the daemon's loop; the tool side
/// (`ControlSocket.request`) sends one and returns the body, or throws the daemon's error.
public enum ControlSocket {
    /// The socket's path for a daemon of a node instance.
    public static func path(daemon: String, instance: NodeInstance) -> String { "\(instance.runDirectory)/\(daemon).sock" }

    /// Sends one request to the daemon listening at `path`; returns the body of an "ok" answer.
    public static func request(_ words: [String], path: String, timeoutSeconds: Int = 30) throws(ClusterError) -> String {
        let fd = try connect(path)
        defer { Glibc.close(fd) }
        setTimeout(fd, seconds: timeoutSeconds)
        let line = Array((words.joined(separator: " ") + "\n").utf8)
        guard writeAll(fd, line) else { throw ClusterError(.disconnected, "\(path): the daemon hung up before the request was sent") }
        shutdown(fd, Int32(SHUT_WR))
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                throw ClusterError(errno == EAGAIN ? .timedOut : .failed, "\(path): no answer: \(String(cString: strerror(errno)))")
            }
            answer.append(contentsOf: buffer[0..<n])
            guard answer.count <= 16 << 20 else { throw ClusterError(.tooLarge, "\(path): answer larger than 16 MiB") }
        }
        guard let newline = answer.firstIndex(of: UInt8(ascii: "\n")) else {
            throw ClusterError(.disconnected, "\(path): the daemon closed the connection without an answer")
        }
        let status = String(decoding: answer[..<newline], as: UTF8.self)
        let body = String(decoding: answer[(newline + 1)...], as: UTF8.self)
        if status == "ok" { return body }
        if status.hasPrefix("error ") { throw ClusterError(.refused, String(status.dropFirst(6))) }
        throw ClusterError(.failed, "\(path): unexpected answer '\(status)'")
    }

    /// A request as the daemon receives it, and the way back to its sender. Answer each exactly once.
    public final class Request: @unchecked Sendable {  // answered once, from the daemon's loop
        /// The request's words.
        public let words: [String]
        private var fd: Int32

        init(words: [String], fd: Int32) {
            self.words = words
            self.fd = fd
        }

        /// Answers "ok" with `body`.
        public func reply(_ body: String) { finish("ok\n" + body) }
        /// Answers with an error message for the operator.
        public func fail(_ message: String) { finish("error " + message.replacingNewlines() + "\n") }

        private func finish(_ text: String) {
            guard fd >= 0 else { return }
            _ = writeAll(fd, Array(text.utf8))  // a tool that hung up loses its answer, nothing else
            Glibc.close(fd)
            fd = -1
        }

        deinit { if fd >= 0 { Glibc.close(fd) } }
    }

    /// Listens at a path; each request arrives through `onRequest` (on the listener's own queue).
    public final class Listener: @unchecked Sendable {  // its descriptor and source live on its queue
        public let path: String
        private let fd: Int32
        private let queue = DispatchQueue(label: "cluster.control.socket")
        private let source: any DispatchSourceRead

        /// Binds `path` (replacing a stale socket left by a previous run), root only.
        public init(path: String, onRequest: @escaping @Sendable (Request) -> Void) throws(ClusterError) {
            self.path = path
            guard path.utf8.count < 108 else { throw ClusterError(.failed, "\(path): path too long for a Unix socket") }
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw ClusterError(.failed, "socket: \(String(cString: strerror(errno)))") }
            if (try? ControlSocket.connect(path)).map({ Glibc.close($0) }) != nil {
                Glibc.close(fd)
                throw ClusterError(.exists, "\(path): another daemon is already listening there")
            }
            unlink(path)
            let bound = withAddress(path) { bind(fd, $0, $1) }
            guard bound == 0, chmod(path, 0o600) == 0, listen(fd, 16) == 0 else {
                let why = String(cString: strerror(errno))
                Glibc.close(fd)
                throw ClusterError(.failed, "\(path): cannot listen: \(why)")
            }
            self.fd = fd
            source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
            source.setEventHandler { [fd] in
                let c = accept(fd, nil, nil)
                guard c >= 0 else { return }
                _ = fcntl(c, F_SETFD, FD_CLOEXEC)
                setTimeout(c, seconds: 2)  // a tool that connects and says nothing does not hold the daemon
                guard let words = readLine(c) else {
                    _ = writeAll(c, Array("error the request was not one line of at most 4096 bytes\n".utf8))
                    Glibc.close(c)
                    return
                }
                onRequest(Request(words: words, fd: c))
            }
            source.setCancelHandler { [fd] in Glibc.close(fd) }
            source.resume()
        }

        /// Stops listening and removes the socket (at once: the process may exit right after).
        public func close() {
            unlink(path)
            source.cancel()
        }
    }

    // MARK: descriptors

    static func connect(_ path: String) throws(ClusterError) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ClusterError(.failed, "socket: \(String(cString: strerror(errno)))") }
        guard withAddress(path, { Glibc.connect(fd, $0, $1) }) == 0 else {
            let e = errno
            Glibc.close(fd)
            if e == ENOENT || e == ECONNREFUSED { throw ClusterError(.notRunning, "\(path): the daemon is not running") }
            if e == EACCES { throw ClusterError(.accessDenied, "\(path): permission denied (root only)") }
            throw ClusterError(.failed, "\(path): \(String(cString: strerror(e)))")
        }
        return fd
    }

    private static func withAddress(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in path.utf8.prefix(raw.count - 1).enumerated() { raw[i] = b }
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    private static func setTimeout(_ fd: Int32, seconds: Int) {
        var t = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &t, socklen_t(MemoryLayout<timeval>.size))
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            sent += n
        }
        return true
    }

    /// One request line, split into words; nil if it is not a line of at most 4096 bytes.
    private static func readLine(_ fd: Int32) -> [String]? {
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while line.count <= 4096 {
            let n = read(fd, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            guard n == 1 else { return nil }
            if byte == UInt8(ascii: "\n") {
                return String(decoding: line, as: UTF8.self).split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            }
            line.append(byte)
        }
        return nil
    }
}

extension String {
    fileprivate func replacingNewlines() -> String { String(map { $0 == "\n" ? " " : $0 }) }
}
