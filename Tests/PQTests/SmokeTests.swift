import Testing
@testable import PQ

@Test func placeholderCompiles() {}
