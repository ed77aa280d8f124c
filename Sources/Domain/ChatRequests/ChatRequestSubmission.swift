/// A public website's submission, as received (validated by the store).
public struct ChatRequestSubmission: Sendable {
    public var agentId: String?
    public var name: String?
    public var email: String?
    public var phone: String?
    public var message: String?
    public var property: Listing?
    public var preferredContactMethod: String?

    public init(
        agentId: String?, name: String?, email: String?, phone: String?, message: String?, property: Listing?,
        preferredContactMethod: String?
    ) {
        self.agentId = agentId
        self.name = name
        self.email = email
        self.phone = phone
        self.message = message
        self.property = property
        self.preferredContactMethod = preferredContactMethod
    }
}
