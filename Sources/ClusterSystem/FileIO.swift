// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Whole-file reads and crash-safe whole-file writes.
public enum FileIO {
    /// The largest file `read` will load (cluster.conf and state files are small).
    public static let readBytesMax = 16 << 20

    /// The contents of `path`.
    public static func read(_ path: String, limit: Int = readBytesMax) throws(SystemError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("cannot open", path: path, errno: errno) }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("cannot read", path: path, errno: errno)
            }
            if n == 0 { break }
            result.append(contentsOf: chunk[0..<n])
            if result.count > limit { throw SystemError("file too large", path: path, errno: EFBIG) }
        }
        return result
    }

    /// True if `path` exists.
    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// Replaces `path` with `bytes` atomically: a temporary file in the same directory is written and fsynced,
    /// renamed over the target, and the directory is fsynced. On any failure the old file is left untouched and
    /// the temporary file removed. `mode` applies to a newly created file; an existing file keeps its mode.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws(SystemError) {
        let dir = directory(of: path)
        var st = stat()
        let finalMode = stat(path, &st) == 0 ? st.st_mode & 0o7777 : mode
        var template = Array("\(path).tmp.XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw SystemError("cannot create a temporary file next to", path: path, errno: errno) }
        let tmpPath = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        var failure: SystemError?
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, bytes.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                failure = SystemError("cannot write", path: tmpPath, errno: errno)
                break
            }
            written += n
        }
        if failure == nil, fchmod(fd, finalMode) != 0 { failure = SystemError("cannot chmod", path: tmpPath, errno: errno) }
        if failure == nil, fsync(fd) != 0 { failure = SystemError("cannot fsync", path: tmpPath, errno: errno) }
        close(fd)
        if failure == nil, rename(tmpPath, path) != 0 { failure = SystemError("cannot rename onto", path: path, errno: errno) }
        if let failure {
            unlink(tmpPath)
            throw failure
        }
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            defer { close(dfd) }
            if fsync(dfd) != 0 { throw SystemError("cannot fsync directory", path: dir, errno: errno) }
        }
    }

    /// Creates `path` and its parents as needed.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(SystemError) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, mode) != 0 && errno != EEXIST {
                throw SystemError("cannot create directory", path: current, errno: errno)
            }
        }
    }

    /// The directory part of `path` ("." if none).
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let d = String(path[..<slash])
        return d.isEmpty ? "/" : d
    }
}
