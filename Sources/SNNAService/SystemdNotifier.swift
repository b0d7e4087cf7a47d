import CSystemd

/// sd_notify(3) through libsystemd: READY, STATUS, WATCHDOG, RELOADING and STOPPING for a `Type=notify` unit.
/// Without $NOTIFY_SOCKET (not under systemd) every call is a no-op.
public struct SystemdNotifier: Sendable {
    public init() {}

    @discardableResult
    public func notify(_ state: String) -> Bool { sd_notify(0, state) > 0 }

    public func ready(status: String) { notify("READY=1\nSTATUS=\(status)") }
    public func status(_ text: String) { notify("STATUS=\(text)") }
    public func watchdog() { notify("WATCHDOG=1") }
    public func reloading() { notify("RELOADING=1") }
    public func stopping() { notify("STOPPING=1") }

    /// The watchdog interval systemd asked for (WatchdogSec), in seconds, or nil when none.
    public var watchdogInterval: Double? {
        var usec: UInt64 = 0
        return sd_watchdog_enabled(0, &usec) > 0 ? Double(usec) / 1e6 : nil
    }
}
