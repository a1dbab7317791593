// SPDX-License-Identifier: Apache-2.0

extension ResourceManager.Resource {
    /// The tree as `rg_test test CONF` prints it: `type {`, one `name = "value";` line per attribute (an inherited
    /// attribute with nothing to inherit prints as `"(null)"`, as rgmanager's printf did), children nested, `}`.
    public func formattedTree(indent: Int = 0) -> String {
        var out = ""
        format(into: &out, indent: indent)
        return out
    }

    private func format(into out: inout String, indent: Int) {
        let pad = String(repeating: " ", count: indent)
        out += "\(pad)\(type) {\n"
        for a in attributes {
            out += "\(pad)  \(a.name) = \"\(a.value ?? "(null)")\";\n"
        }
        for c in children { c.format(into: &out, indent: indent + 2) }
        out += "\(pad)}\n"
    }
}
