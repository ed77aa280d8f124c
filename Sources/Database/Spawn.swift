import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs a command to completion with `posix_spawn`, output appended to a log file.
///
/// Not Foundation's `Process`: `pg_ctl start` leaves a postmaster running in the background
/// that inherits the pipe `Process` watches for the child's exit, so `Process` waits for ever
/// (swift-corelibs-foundation #4795). Here the child gets /dev/null for stdin and the log file
/// for stdout/stderr, and we wait for the pid alone. Blocking: call it from a thread that may
/// block (or before the server starts).
enum Spawn {
    struct Failure: Error, CustomStringConvertible {
        let command: [String]
        let status: Int32
        let output: String
        var description: String {
            "\(command.joined(separator: " ")) exited with status \(status)\(output.isEmpty ? "" : ":\n" + output)"
        }
    }

    /// Runs `arguments` (the first is looked up on PATH unless it contains a `/`) and returns
    /// its exit status. What it printed goes to `logPath` (or nowhere).
    @discardableResult
    static func run(_ arguments: [String], logPath: String? = nil) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        let output = logPath ?? "/dev/null"
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        markDescriptorsCloseOnExec()

        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let status = posix_spawnp(&pid, arguments[0], &actions, nil, argv, environ)
        guard status == 0 else {
            throw Failure(command: arguments, status: -1, output: "cannot start: \(String(cString: strerror(status)))")
        }
        var waitStatus: Int32 = 0
        while waitpid(pid, &waitStatus, 0) < 0 {
            if errno != EINTR { throw Failure(command: arguments, status: -1, output: "waitpid failed") }
        }
        // WIFEXITED/WEXITSTATUS are macros Swift does not import.
        if waitStatus & 0x7f == 0 { return (waitStatus >> 8) & 0xff }
        return 128 + (waitStatus & 0x7f)
    }

    /// Nothing of ours (sockets, a test runner's pipes) may leak into a long-lived postmaster:
    /// glibc's posix_spawn has no portable "close from", so every descriptor above stderr is
    /// marked close-on-exec in this process first (harmless here: we never exec ourselves).
    private static func markDescriptorsCloseOnExec() {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return }
        for entry in entries {
            guard let fd = Int32(entry), fd > 2 else { continue }
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0, flags & FD_CLOEXEC == 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
        }
    }

    /// Runs and throws with the command's output if it exits non-zero.
    static func check(_ arguments: [String], logPath: String) throws {
        let before = (try? FileManager.default.attributesOfItem(atPath: logPath)[.size] as? Int) ?? 0
        let status = try run(arguments, logPath: logPath)
        guard status == 0 else {
            let data = (try? Data(contentsOf: URL(fileURLWithPath: logPath))) ?? Data()
            let tail = String(decoding: data.dropFirst(before).suffix(2000), as: UTF8.self)
            throw Failure(command: arguments, status: status, output: tail)
        }
    }
}
