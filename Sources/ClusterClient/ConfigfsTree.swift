// SPDX-License-Identifier: Apache-2.0
import Glibc

/// A kernel configuration tree a control daemon writes (configfs, or sysfs attributes), rooted at a directory.
///
/// On configfs, `mkdir` creates an item whose attribute files appear with it, and `rmdir` removes the item with
/// them. A plain directory can stand in for it (tests, a node without the kernel module): attributes are written
/// with `O_CREAT`, so they appear on first write, and `removeItem` deletes a plain directory's files before the
/// `rmdir` that configfs alone would accept. The same code drives both.
public struct ConfigfsTree: Sendable {
    /// The tree's root, e.g. `/sys/kernel/config/dlm/cluster`.
    public let root: String

    public init(root: String) { self.root = root }

    /// Creates the item at `path` (relative to the root) and any missing parents; an existing one is kept.
    public func makeItem(_ path: String) throws(ClusterError) {
        var sofar = ""
        for part in ([root] + path.split(separator: "/").map(String.init)).joined(separator: "/").split(separator: "/") {
            sofar += "/" + part
            if mkdir(sofar, 0o755) != 0 && errno != EEXIST { throw failure("mkdir", sofar) }
        }
    }

    /// Writes an attribute (text: a decimal number, an address; or raw bytes, as the DLM's `addr`).
    public func write(_ path: String, _ text: String) throws(ClusterError) { try write(path, bytes: Array(text.utf8)) }

    public func write(_ path: String, bytes: [UInt8]) throws(ClusterError) {
        let full = root + "/" + path
        let fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("open", full) }
        defer { close(fd) }
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count else { throw failure("write", full) }
    }

    /// An attribute's value without its trailing newline, or nil if there is none.
    public func read(_ path: String) -> String? {
        let fd = open(root + "/" + path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = Glibc.read(fd, &buffer, buffer.count)
        guard n >= 0 else { return nil }
        var s = String(decoding: buffer[0..<n], as: UTF8.self)
        while s.hasSuffix("\n") { s.removeLast() }
        return s
    }

    /// The items (subdirectories) under `path`, sorted.
    public func items(_ path: String) -> [String] {
        guard let dir = opendir(root + "/" + path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if name != "." && name != "..", entry.pointee.d_type == UInt8(DT_DIR) { names.append(name) }
        }
        return names.sorted()
    }

    /// Whether the item at `path` exists.
    public func exists(_ path: String) -> Bool { access(root + "/" + path, F_OK) == 0 }

    /// Removes the item at `path` and the items beneath it (deepest first); a missing one is not an error.
    public func removeItem(_ path: String) throws(ClusterError) {
        for child in items(path) { try removeItem(path + "/" + child) }
        let full = root + "/" + path
        if rmdir(full) == 0 || errno == ENOENT { return }
        guard errno == ENOTEMPTY || errno == EEXIST else { throw failure("rmdir", full) }
        // A plain directory standing in for configfs: its attribute files go first.
        if let dir = opendir(full) {
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
                if name != "." && name != ".." { unlink(full + "/" + name) }
            }
            closedir(dir)
        }
        if rmdir(full) != 0 && errno != ENOENT { throw failure("rmdir", full) }
    }

    private func failure(_ call: String, _ path: String) -> ClusterError {
        ClusterError(.failed, "\(call) \(path): \(String(cString: strerror(errno)))")
    }
}
