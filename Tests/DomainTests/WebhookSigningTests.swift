import Domain
import Foundation
import Testing

/// Standard Webhooks signatures and the URLs a brokerage may register (issue 19).
@Suite("Webhooks: signatures and URL policy")
struct WebhookSigningTests {
    @Test("signatures match the Standard Webhooks reference (the spec's example, checked with the standardwebhooks package)")
    func referenceSignature() throws {
        let body = Array(#"{"test": 2432232314}"#.utf8)
        let signature = StandardWebhooks.signature(
            id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: body, secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        // A changed body, id or timestamp gives another signature.
        #expect(StandardWebhooks.signature(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_331, body: body,
                                           secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") != signature)
        // During a rotation both secrets sign, space-separated; a non-secret signs nothing.
        let fresh = StandardWebhooks.newSecret()
        let header = StandardWebhooks.signatureHeader(
            id: "msg_1", timestamp: 1, body: body, secrets: [fresh, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "not-a-secret"])
        #expect(header.split(separator: " ").count == 2)
        #expect(header.split(separator: " ").allSatisfy { $0.hasPrefix("v1,") })
        #expect(fresh.hasPrefix("whsec_") && Data(base64Encoded: String(fresh.dropFirst(6)))?.count == 32)
        #expect(StandardWebhooks.newSecret() != fresh)
    }

    @Test("https only; loopback, private, link-local and metadata addresses refused unless the operator allows the host")
    func urlPolicy() throws {
        let policy = WebhookURLPolicy(environment: "127.0.0.1, hooks.internal")
        func code(_ url: String) -> String? {
            do {
                _ = try policy.validate(url)
                return nil
            } catch DomainError.validation(let errors) {
                return errors.first?.code
            } catch {
                return "\(error)"
            }
        }
        #expect(code("https://crm.example.com/parley/hooks?x=1") == nil)
        #expect(code("https://93.184.216.34/hook") == nil)
        #expect(code("https://[2606:4700::1111]/hook") == nil)
        #expect(code("http://crm.example.com/hook") == "https_required")
        #expect(code("ftp://crm.example.com/hook") == "https_required")
        #expect(code("crm.example.com/hook") == "invalid_url")
        #expect(code("https://user:pass@crm.example.com/hook") == "invalid_url")
        #expect(code("https://crm.example.com/hook#frag") == "invalid_url")
        for blocked in [
            "https://127.0.0.2/", "https://10.1.2.3/", "https://172.20.0.1/", "https://192.168.1.10/",
            "https://169.254.169.254/latest/meta-data/", "https://100.64.0.1/", "https://0.0.0.0/", "https://[::1]/",
            "https://[::ffff:10.0.0.1]/", "https://[fd12:3456::1]/", "https://[fe80::1]/", "https://localhost/",
            "https://api.localhost/", "https://metadata.google.internal/", "https://224.0.0.1/",
            // IPv4 inside IPv6 through a translator: NAT64 and 6to4.
            "https://[64:ff9b::a9fe:a9fe]/", "https://[64:ff9b::7f00:1]/", "https://[64:ff9b:1::a00:1]/", "https://[2002:a00:1::]/",
        ] {
            #expect(code(blocked) == "blocked_address", "\(blocked)")
        }
        // The operator's hosts: plain http too, private addresses too; only those hosts.
        #expect(code("http://127.0.0.1:8099/hook") == nil)
        #expect(code("https://hooks.internal/x") == nil)
        #expect(code("http://127.0.0.2:8099/hook") == "https_required")
        #expect(WebhookURLPolicy().allowedHosts.isEmpty)
        #expect(WebhookURLPolicy.blockedReason(address: "203.0.113.9") == nil)
        #expect(WebhookURLPolicy.blockedReason(address: "::1") != nil)
        #expect(WebhookURLPolicy.blockedReason(address: "64:ff9b::cb00:7109") == nil, "NAT64 of a public address")
        #expect(WebhookURLPolicy.blockedReason(address: "2002:cb00:7109::1") == nil, "6to4 of a public address")
    }

    @Test("delivery connects only to an address checked at that moment: names and literals that lead inside are refused", arguments: [
        "http://localhost:1/hook", "https://127.0.0.1:1/", "https://[::1]:1/", "https://[::ffff:10.0.0.1]/",
        "https://169.254.169.254/latest/meta-data", "https://0.0.0.0:1/", "https://192.168.1.1/",
    ])
    func deliveryRefusesInternalAddresses(url: String) async {
        let sender = WebhookSender(policy: WebhookURLPolicy(), timeout: 2)
        let outcome = await sender.send(url: url, messageID: "msg_1", body: "{}", secrets: [StandardWebhooks.newSecret()])
        await sender.shutdown()
        #expect(outcome.status == nil)
        #expect(outcome.error?.hasPrefix("blocked_address") == true, "\(outcome)")
    }

    @Test("a host the operator allows is called: a refused connection is a failed attempt, not a blocked one")
    func allowedHostIsCalled() async {
        // AsyncHTTPClient retries a refused connection until its connect timeout (10 s) or the
        // request's deadline (95 % of ours). With 2 s the client's deadline and ours were 100 ms
        // apart, and once in CI, under the suite's load, ours came first ("timeout: no answer
        // within 2 s"). With 30 s the client gives up at 10 s with its connection error.
        let sender = WebhookSender(policy: WebhookURLPolicy(allowedHosts: ["127.0.0.1"]), timeout: 30)
        let outcome = await sender.send(url: "http://127.0.0.1:1/hook", messageID: "msg_1", body: "{}", secrets: [])
        await sender.shutdown()
        #expect(outcome.status == nil)
        #expect(outcome.error?.hasPrefix("connection") == true, "\(outcome)")
    }
}

