// swift-tools-version:6.0
// SPDX-License-Identifier: Apache-2.0
// A small control daemon written on the ClusterClient SDK only. In your own package, depend on the cluster package
// by version: .package(url: "<the cluster repository>", from: "0.1.0"). tools/check-sdk builds this example exactly
// that way, against a version tag of this checkout.
import PackageDescription

let package = Package(
    name: "ExampleControlDaemon",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "cluster", path: "../../.."),
    ],
    targets: [
        .executableTarget(name: "example-controld", dependencies: [.product(name: "ClusterClient", package: "cluster")]),
        // docs/controld.md builds these two, step by step.
        .executableTarget(name: "toyfs_controld", dependencies: [.product(name: "ClusterClient", package: "cluster")]),
        .executableTarget(name: "toyfs_tool", dependencies: [.product(name: "ClusterClient", package: "cluster")]),
    ]
)
