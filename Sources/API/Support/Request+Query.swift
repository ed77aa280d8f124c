import Domain
import Hummingbird
import HummingbirdCore

extension Request {
    /// A query parameter that must be one of an enum's raw values, or a validation problem.
    func queryEnum<T: RawRepresentable & CaseIterable>(_ name: String, as type: T.Type) throws -> T? where T.RawValue == String {
        guard let text = uri.queryParameters[Substring(name)].map(String.init) else { return nil }
        guard let value = T(rawValue: text) else {
            let allowed = T.allCases.map(\.rawValue).joined(separator: ", ")
            throw Problem.validation([.init(name, "invalid_value", "\(name) must be one of: \(allowed)")])
        }
        return value
    }

    /// An integer query parameter, or a validation problem.
    func queryInt(_ name: String, range: ClosedRange<Int64>) throws -> Int64? {
        try uri.queryInt(name, range: range)
    }

    func queryString(_ name: String) -> String? {
        uri.queryParameters[Substring(name)].map(String.init)
    }
}

extension URI {
    /// An integer query parameter, or a validation problem.
    func queryInt(_ name: String, range: ClosedRange<Int64>) throws -> Int64? {
        guard let text = queryParameters[Substring(name)].map(String.init) else { return nil }
        guard let value = Int64(text), range.contains(value) else {
            throw Problem.validation([.init(name, "out_of_range", "\(name) must be an integer from \(range.lowerBound) to \(range.upperBound)")])
        }
        return value
    }
}
