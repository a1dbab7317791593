// swift-tools-version:6.0
// SPDX-License-Identifier: Apache-2.0
import Foundation
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

/// The protocol cores and their simulator are optimised even in debug builds: `swift test` runs hundreds of simulated
/// clusters, which take minutes unoptimised and seconds optimised.
let optimized: [SwiftSetting] = strict + [.unsafeFlags(["-O"], .when(configuration: .debug))]

/// The modules a product reaches (ClusterTypes, ClusterWire) may not carry unsafe flags, or a package that depends on
/// this one by version cannot build. They are optimised in debug builds only when `CLUSTER_DEBUG_OPTIMIZE=1` is set
/// (tools/test sets it), which only this repository's own builds do.
let optimizedWhenAsked: [SwiftSetting] = Context.environment["CLUSTER_DEBUG_OPTIMIZE"] == "1" ? optimized : strict

/// The daemons' message path without Swift's dynamic exclusivity checks (`swift_beginAccess` on every access to a class
/// property: 6.5 % of groupd under load). An unsafe flag, so only in modules that no product reaches (the service
/// shells, totemd's transport and client link; `CoreDriver` is specialised into the services); the cores keep theirs,
/// and the debug builds of the tests keep them everywhere.
let exclusivityUnchecked: SwiftSetting = .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))
let messagePath: [SwiftSetting] = strict + [exclusivityUnchecked]

/// corosync's libcpg, the second back end of the comparison benchmark (tools/cpgload): built only where its headers
/// are installed (tools/cpg-compare installs libcpg-dev), so nothing else depends on corosync.
let haveLibcpg = FileManager.default.fileExists(atPath: "/usr/include/corosync/cpg.h")

let package = Package(
    name: "cluster",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "ClusterClient", targets: ["ClusterClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"4.0.0"),
    ],
    targets: [
        // MARK: System libraries (each imported by exactly one module)
        .systemLibrary(name: "CQB", pkgConfig: "libqb", providers: [.apt(["libqb-dev"])]),
        .systemLibrary(name: "CXML2", pkgConfig: "libxml-2.0", providers: [.apt(["libxml2-dev"])]),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .systemLibrary(name: "CLibcrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),

        // MARK: Pure modules (no Foundation, no C, no I/O)
        .target(name: "ClusterTypes", swiftSettings: optimizedWhenAsked),
        .target(name: "ClusterWire", dependencies: ["ClusterTypes"], swiftSettings: optimizedWhenAsked),
        .target(name: "ClusterConfigModel", dependencies: ["ClusterTypes"], swiftSettings: strict),
        .target(name: "ClusterIPCProtocol", dependencies: ["ClusterTypes", "ClusterWire"], swiftSettings: strict),
        .target(name: "TotemCore", dependencies: ["ClusterTypes", "ClusterWire", "ClusterConfigModel"], swiftSettings: optimized),

        .target(name: "QuorumCore", dependencies: ["ClusterTypes", "ClusterWire", "ClusterConfigModel", "ClusterIPCProtocol"],
                swiftSettings: optimized),
        .target(name: "GroupCore", dependencies: ["ClusterTypes", "ClusterWire"], swiftSettings: optimized),
        .target(name: "ResourceCore", dependencies: ["ClusterTypes", "ClusterWire", "ClusterConfigModel"], swiftSettings: optimized),
        .target(name: "FenceCore", dependencies: ["ClusterTypes", "ClusterWire", "ClusterConfigModel", "GroupCore"], swiftSettings: optimized),
        .target(name: "ClusterSimulator", dependencies: ["ClusterTypes", "ClusterWire", "ClusterIPCProtocol", "TotemCore", "QuorumCore", "GroupCore",
                                                         "ResourceCore", "FenceCore", "ControlCore"],
                swiftSettings: optimized),

        // MARK: Effect modules
        .target(name: "CSocketBatch"),
        .target(name: "TotemTransport", dependencies: ["CLibcrypto", "CSocketBatch", "ClusterTypes", "ClusterSystem", .product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: optimized + [exclusivityUnchecked]),
        .target(name: "FenceAgents", dependencies: ["FenceCore", "ClusterConfig", "ClusterConfigModel", "ClusterSystem", "ClusterTypes"],
                swiftSettings: strict),
        .target(name: "ClusterSystem", dependencies: ["ClusterConfigModel", "ClusterTypes"], swiftSettings: strict),
        .target(name: "ClusterConfig", dependencies: ["CXML2", "ClusterConfigModel", "ClusterSystem"], swiftSettings: strict),
        .target(name: "ClusterIPC", dependencies: ["CQB", "ClusterIPCProtocol", "ClusterTypes", "ClusterWire", "ClusterSystem"], swiftSettings: strict),
        .target(name: "ClusterDaemonSupport",
                dependencies: ["CSystemd", "ClusterConfig", "ClusterConfigModel", "ClusterIPC", "ClusterSystem", "ClusterTypes",
                               .product(name: "Logging", package: "swift-log"),
                               .product(name: "ArgumentParser", package: "swift-argument-parser")],
                swiftSettings: strict),
        .target(name: "TotemService",
                dependencies: ["TotemCore", "TotemTransport", "ClusterIPC", "ClusterIPCProtocol", "ClusterConfig", "ClusterConfigModel",
                               "ClusterDaemonSupport", "ClusterSystem", "ClusterTypes", "ClusterWire", .product(name: "Logging", package: "swift-log")],
                swiftSettings: messagePath),
        .target(name: "QuorumService",
                dependencies: ["QuorumCore", "ClusterClient", "TotemLink", "ClusterIPC", "ClusterIPCProtocol", "ClusterConfig", "ClusterConfigModel",
                               "ClusterDaemonSupport", "ClusterSystem", "ClusterTypes", "ClusterWire", "TotemTransport",
                               .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict),
        .target(name: "GroupService",
                dependencies: ["GroupCore", "ClusterClient", "TotemLink", "ClusterIPC", "ClusterIPCProtocol", "ClusterDaemonSupport", "ClusterSystem",
                               "ClusterTypes", .product(name: "Logging", package: "swift-log")],
                swiftSettings: messagePath),
        .target(name: "FenceService",
                dependencies: ["FenceCore", "FenceAgents", "GroupCore", "ClusterClient", "ClusterIPC", "ClusterIPCProtocol", "ClusterConfigModel",
                               "ClusterDaemonSupport", "ClusterSystem", "ClusterTypes", .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict),
        .target(name: "ResourceService",
                dependencies: ["ResourceCore", "ResourceAgents", "ClusterClient", "ClusterIPC", "ClusterIPCProtocol", "ClusterConfig", "ClusterConfigModel",
                               "ClusterDaemonSupport", "ClusterSystem", "ClusterTypes", .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict),
        .target(name: "ResourceAgents", dependencies: ["ResourceCore", "ClusterConfig", "ClusterConfigModel", "ClusterSystem", "ClusterTypes"],
                swiftSettings: strict),
        .target(name: "ClusterClient", dependencies: ["ClusterIPC", "ClusterIPCProtocol", "ClusterSystem", "ClusterTypes", "ClusterWire", "ControlCore",
                                                    "ClusterConfig", "ClusterConfigModel"],
                swiftSettings: strict),
        // The logic control daemons share (group recovery, topology): pure, part of the SDK.
        .target(name: "ControlCore", dependencies: ["ClusterTypes", "ClusterWire"], swiftSettings: strict),
        // totemd's client side, for the daemons and tools of this repository (not part of the SDK).
        .target(name: "TotemLink", dependencies: ["ClusterIPC", "ClusterIPCProtocol", "ClusterSystem", "ClusterTypes", "ClusterWire"],
                swiftSettings: messagePath),
        .target(name: "ToolSupport",
                dependencies: ["ClusterClient", "ClusterConfig", "ClusterConfigModel", "ClusterSystem",
                               .product(name: "ArgumentParser", package: "swift-argument-parser")],
                path: "tools/ToolSupport", swiftSettings: strict),

        // MARK: Daemons
        .executableTarget(name: "totemd",
                          dependencies: ["TotemService", "ClusterConfig", "ClusterDaemonSupport", "ClusterIPC", "ClusterSystem",
                                         .product(name: "Logging", package: "swift-log"),
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          swiftSettings: strict),

        .executableTarget(name: "quorumd",
                          dependencies: ["QuorumService", "ClusterConfig", "ClusterDaemonSupport", "ClusterIPC", "ClusterSystem",
                                         .product(name: "Logging", package: "swift-log"),
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          swiftSettings: strict),

        .executableTarget(name: "groupd",
                          dependencies: ["GroupService", "ClusterConfig", "ClusterDaemonSupport", "ClusterIPC", "ClusterSystem",
                                         .product(name: "Logging", package: "swift-log"),
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          swiftSettings: strict),

        .executableTarget(name: "fenced", dependencies: ["FenceService", "ClusterDaemonSupport"], swiftSettings: strict),
        .executableTarget(name: "rgmanager",
                          dependencies: ["ResourceService", "ClusterDaemonSupport", .product(name: "Logging", package: "swift-log")],
                          swiftSettings: strict),

        // Control daemons: written on the public SDK only (ArchitectureTests holds them to it).
        .executableTarget(name: "dlm_controld", dependencies: ["ClusterClient"], swiftSettings: strict),
        .executableTarget(name: "o2cb_controld", dependencies: ["ClusterClient"], swiftSettings: strict),

        // MARK: Tools
        .executableTarget(name: "dlm_tool", dependencies: ["ClusterClient"], path: "tools/dlm_tool", swiftSettings: strict),
        .executableTarget(name: "o2cb_tool", dependencies: ["ClusterClient"], path: "tools/o2cb_tool", swiftSettings: strict),
        .executableTarget(name: "ccs_tool", dependencies: ["ToolSupport", "ClusterConfig", "ClusterConfigModel", "ClusterSystem",
                                                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "tools/ccs_tool", swiftSettings: strict),
        .executableTarget(name: "cman_tool", dependencies: ["ToolSupport", "ClusterClient", "TotemLink", "ClusterTypes", "ClusterIPC", "ClusterIPCProtocol", "ClusterSystem",
                                                            .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "tools/cman_tool", swiftSettings: strict),
        .executableTarget(name: "cpgtool", dependencies: ["ToolSupport", "ClusterClient", "ClusterIPCProtocol", "ClusterSystem",
                                                          .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "tools/cpgtool", swiftSettings: strict),
        .executableTarget(name: "group_tool", dependencies: ["ToolSupport", "ClusterClient", "ClusterSystem"],
                          path: "tools/group_tool", swiftSettings: strict),
        .executableTarget(name: "testcpg", dependencies: ["ClusterClient", "ClusterIPCProtocol", "ClusterSystem"],
                          path: "tools/testcpg", swiftSettings: strict),
        .executableTarget(name: "ccs_config_validate", dependencies: ["ToolSupport", "ClusterConfig", "ClusterConfigModel", "FenceAgents",
                                                                      .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "tools/ccs_config_validate", swiftSettings: strict),

        .executableTarget(name: "rg_test", dependencies: ["ToolSupport", "ResourceAgents", "ResourceCore", "ClusterConfig", "ClusterConfigModel",
                                                          .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "tools/rg_test", swiftSettings: strict),
        .executableTarget(name: "clusvcadm", dependencies: ["ToolSupport", "ClusterClient", "ClusterSystem",
                                                            .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "tools/clusvcadm", swiftSettings: strict),
        .executableTarget(name: "clustat", dependencies: ["ToolSupport", "ClusterClient", "ResourceCore", "ClusterSystem",
                                                          .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "tools/clustat", swiftSettings: strict),
        .executableTarget(name: "fence_tool", dependencies: ["ToolSupport", "ClusterClient", "ClusterSystem", "ClusterTypes",
                                                             .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "tools/fence_tool", swiftSettings: strict),
        .executableTarget(name: "fence_ack_manual", dependencies: ["ToolSupport", "ClusterClient", "ClusterConfig", "ClusterConfigModel", "ClusterSystem",
                                                                   "ClusterTypes", .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "tools/fence_ack_manual", swiftSettings: strict),
        .executableTarget(name: "fence_node", dependencies: ["ToolSupport", "FenceAgents", "FenceCore", "ClusterClient", "ClusterConfig", "ClusterConfigModel", "ClusterTypes",
                                                             .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "tools/fence_node", swiftSettings: strict),
        .executableTarget(name: "totem-sim", dependencies: ["ClusterSimulator", "TotemCore", "ClusterTypes"],
                          path: "tools/totem-sim", swiftSettings: strict),
        .executableTarget(name: "stack-sim", dependencies: ["ClusterSimulator", "QuorumCore", "GroupCore", "ClusterTypes"],
                          path: "tools/stack-sim", swiftSettings: strict),
        .target(name: "BenchSupport", dependencies: ["ClusterClient", "TotemLink", "ClusterIPC", "ClusterIPCProtocol", "ClusterSystem", "ClusterTypes"],
                path: "tools/BenchSupport", swiftSettings: strict),
        .executableTarget(name: "totembench", dependencies: ["BenchSupport", "ClusterClient", "TotemLink", "ClusterIPC", "ClusterIPCProtocol", "ClusterSystem", "ClusterTypes"],
                          path: "tools/totembench", swiftSettings: strict),
        .executableTarget(name: "cpgbench", dependencies: ["BenchSupport"], path: "tools/cpgbench", swiftSettings: strict),
        .executableTarget(name: "cpgload", dependencies: ["BenchSupport", "ClusterClient", "ClusterIPCProtocol", "ClusterSystem"] + (haveLibcpg ? ["CCPG"] : []),
                          path: "tools/cpgload", swiftSettings: strict),
        .executableTarget(name: "cpgcompare", dependencies: ["BenchSupport"], path: "tools/cpgcompare", swiftSettings: strict),
        .executableTarget(name: "ipcbench", dependencies: ["ClusterIPC", "ClusterIPCProtocol"], path: "tools/ipcbench", swiftSettings: strict),

        // MARK: Test support
        .executableTarget(name: "ipc-peer", dependencies: ["ClusterIPC", "ClusterIPCProtocol", "ClusterWire", "ClusterDaemonSupport"],
                          path: "Tests/Support/ipc-peer", swiftSettings: strict),

        .executableTarget(name: "fenced-stub", dependencies: ["ClusterIPC", "ClusterIPCProtocol", "ClusterSystem", "ClusterTypes"],
                          path: "Tests/Support/fenced-stub", swiftSettings: strict),
        .executableTarget(name: "cman-peer", dependencies: ["ClusterClient", "ClusterIPCProtocol", "ClusterSystem", "ClusterTypes"],
                          path: "Tests/Support/cman-peer", swiftSettings: strict),
        .target(name: "SimulationTestSupport", dependencies: ["ClusterSimulator"],
                path: "Tests/Support/SimulationTestSupport", swiftSettings: strict),
        .target(name: "TestSupportKit", dependencies: ["ClusterClient", "ClusterIPC", "TotemLink", "ClusterIPCProtocol", "ClusterSystem", "ClusterTypes"],
                path: "Tests/Support/TestSupportKit", swiftSettings: strict),

        // MARK: Tests
        .testTarget(name: "ClusterConfigTests", dependencies: ["ClusterConfig", "ClusterConfigModel", "ClusterSystem"],
                    swiftSettings: strict),
        .testTarget(name: "ClusterDaemonSupportTests",
                    dependencies: ["ClusterDaemonSupport", "ClusterConfig", "ClusterConfigModel", "ClusterIPC", "ClusterSystem", "ClusterTypes", "TestSupportKit",
                                   .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .testTarget(name: "TotemSimulationTests", dependencies: ["ClusterSimulator", "SimulationTestSupport", "TotemCore"],
                    swiftSettings: strict),
        .testTarget(name: "ArchitectureTests", swiftSettings: strict),
        .testTarget(name: "TotemScenarioTests", dependencies: ["ClusterSimulator", "SimulationTestSupport"], exclude: ["testdata"],
                    swiftSettings: strict),
        .testTarget(name: "QuorumScenarioTests", dependencies: ["ClusterSimulator", "SimulationTestSupport"], exclude: ["testdata"],
                    swiftSettings: strict),
        .testTarget(name: "TotemMutationTests", dependencies: ["ClusterSimulator", "SimulationTestSupport", "TotemCore"],
                    swiftSettings: strict),
        .testTarget(name: "StackSimulationTests", dependencies: ["ClusterSimulator", "SimulationTestSupport", "QuorumCore", "GroupCore", "FenceCore",
                                                                 "ClusterTypes"],
                    swiftSettings: strict),
        .testTarget(name: "StackMutationTests", dependencies: ["ClusterSimulator", "SimulationTestSupport", "QuorumCore", "GroupCore"],
                    swiftSettings: strict),
        .testTarget(name: "TotemTransportTests", dependencies: ["TotemTransport", "ClusterSystem", "ClusterTypes",
                                                           .product(name: "Crypto", package: "swift-crypto")], swiftSettings: strict),
        .testTarget(name: "TotemCoreTests", dependencies: ["TotemCore", "ClusterTypes", "ClusterWire", "ClusterConfigModel"], swiftSettings: strict),
        .testTarget(name: "QuorumCoreTests", dependencies: ["QuorumCore", "ClusterTypes"], swiftSettings: strict),
        .testTarget(name: "ResourceAgentsTests", dependencies: ["ResourceAgents", "ResourceCore", "ClusterConfig", "ClusterConfigModel", "ClusterTypes",
                                                                "TestSupportKit", "rg_test"], swiftSettings: strict),
        .testTarget(name: "ResourceSimulationTests", dependencies: ["ClusterSimulator", "ResourceCore", "QuorumCore", "ClusterTypes"],
                    swiftSettings: strict),
        .testTarget(name: "ResourceMutationTests", dependencies: ["ClusterSimulator", "ResourceCore", "QuorumCore", "ClusterTypes"],
                    swiftSettings: strict),
        .testTarget(name: "ResourceCoreTests", dependencies: ["ResourceCore", "ClusterConfigModel", "ClusterTypes"], swiftSettings: strict),
        .testTarget(name: "FenceAgentsTests", dependencies: ["FenceAgents", "FenceCore", "ClusterConfig", "ClusterConfigModel", "ClusterTypes"],
                    swiftSettings: strict),
        .testTarget(name: "FenceToolTests", dependencies: ["TestSupportKit", "FenceAgents", "FenceCore", "ClusterTypes", "fence_node", "ccs_config_validate"],
                    swiftSettings: strict),
        .testTarget(name: "ControlSimulationTests", dependencies: ["ClusterSimulator", "ControlCore", "FenceCore", "QuorumCore", "ClusterTypes"],
                    swiftSettings: strict),
        .testTarget(name: "FenceMutationTests", dependencies: ["ClusterSimulator", "FenceCore", "QuorumCore", "ClusterTypes"], swiftSettings: strict),
        .testTarget(name: "FenceCoreTests", dependencies: ["FenceCore", "ClusterTypes", "ClusterWire", "ClusterConfigModel", "ClusterConfig"], swiftSettings: strict),
        .testTarget(name: "ControlCoreTests", dependencies: ["ControlCore", "ClusterTypes"], swiftSettings: strict),
        .testTarget(name: "ToolTests", dependencies: ["TestSupportKit", "ccs_tool", "ccs_config_validate", "totemd", "quorumd", "groupd", "fenced",
                                                     "fence_tool", "fence_ack_manual", "fence_node",
                                                     "cman_tool", "group_tool", "cpgtool"], swiftSettings: strict),
        .testTarget(name: "TotemDaemonTests", dependencies: ["TestSupportKit", "ClusterClient", "ClusterIPC", "TotemLink", "ClusterIPCProtocol", "ClusterTypes", "totemd", "cman_tool"],
                    swiftSettings: strict),
        .testTarget(name: "QuorumDaemonTests",
                    dependencies: ["TestSupportKit", "ClusterClient", "ClusterIPCProtocol", "ClusterTypes", "totemd", "quorumd", "cman_tool", "cman-peer"],
                    swiftSettings: strict),
        .testTarget(name: "ControlDaemonTests",
                    dependencies: ["TestSupportKit", "ClusterClient", "totemd", "quorumd", "groupd", "dlm_controld", "o2cb_controld",
                                   "dlm_tool", "o2cb_tool", "cman_tool"],
                    swiftSettings: strict),
        .testTarget(name: "GroupDaemonTests",
                    dependencies: ["TestSupportKit", "ClusterClient", "ClusterIPCProtocol", "ClusterTypes", "GroupService", "totemd", "groupd", "testcpg",
                                   "cpgtool", "cman_tool", "group_tool"],
                    swiftSettings: strict),
        .testTarget(name: "FenceDaemonTests",
                    dependencies: ["TestSupportKit", "ClusterClient", "ClusterIPC", "ClusterIPCProtocol", "ClusterWire", "totemd", "quorumd", "groupd", "fenced",
                                   "fence_tool", "fence_ack_manual", "fence_node", "cman_tool", "dlm_controld", "dlm_tool"],
                    swiftSettings: strict),
        .testTarget(name: "ResourceDaemonTests",
                    dependencies: ["TestSupportKit", "ClusterClient", "ClusterIPC", "ClusterIPCProtocol", "ClusterTypes", "ClusterWire", "totemd", "quorumd", "groupd", "rgmanager",
                                   "clustat", "clusvcadm", "fenced", "fence_tool", "fenced-stub"],
                    swiftSettings: strict),
        .testTarget(name: "ClusterIPCTests", dependencies: ["ClusterIPC", "TestSupportKit", "ipc-peer"], swiftSettings: strict),
    ]
)

if haveLibcpg {
    package.targets.append(.systemLibrary(name: "CCPG", path: "tools/CCPG", pkgConfig: "libcpg", providers: [.apt(["libcpg-dev"])]))
}
