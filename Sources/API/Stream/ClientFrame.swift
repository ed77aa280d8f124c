import Foundation

struct ClientFrame: Decodable {
    let type: String
    let token: String?
    let sessionId: String?

    static func decode(_ text: String) -> ClientFrame? {
        try? JSONDecoder().decode(ClientFrame.self, from: Data(text.utf8))
    }
}
