import Testing

@testable import TokentallySystem
@testable import TokentallyReading
@testable import TokentallyCounting
@testable import TokentallyOutput
@testable import TokentallyConfiguration
@testable import TokentallyReplay
@testable import TokentallyDaemon
@testable import TokentallySamples

private func sha256Hex(_ text: String) -> String {
    var text = text
    return text.withUTF8 { SHA256.hex(SHA256.hash(UnsafeRawBufferPointer($0))) }
}

// MARK: SHA-256

@Test func sha256MatchesFIPS180Vectors() {
    #expect(sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    #expect(sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    #expect(
        sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
    #expect(
        million.withUnsafeBytes { SHA256.hex(SHA256.hash($0)) }
            == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
}

/// Expected digests were produced with `printf '%s' TEXT | /usr/bin/sha256sum` (GNU coreutils).
@Test func sha256MatchesCoreutilsSha256sum() {
    #expect(sha256Hex("sk-proj-abc123") == "4e36e93944591d2a960e85a6781ef1791276f2ebb052a0f0483c8f30f518809e")
    #expect(sha256Hex("tokentally") == "9e28a375babe1d1c9ef73ed9745a19086bf7134c0a4b1f89cdad8214a6d93b99")
    #expect(sha256Hex("é") == "4a99557e4033c3539de2eb65472017cad5f9557f7a0625a09f1c3f6e2ba69c4c")
    // Lengths around the padding boundary: 55 bytes fit one final block, 56 need two, 64 is whole.
    #expect(
        sha256Hex(String(repeating: "x", count: 55))
            == "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072")
    #expect(
        sha256Hex(String(repeating: "x", count: 56))
            == "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e")
    #expect(
        sha256Hex(String(repeating: "x", count: 64))
            == "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c")
}

@Test func hexWritesTwoLowercaseDigitsPerByte() {
    #expect(SHA256.hex([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
    #expect(SHA256.hex([UInt8]()) == "")
    #expect(SHA256.hash(UnsafeRawBufferPointer(start: nil, count: 0)).count == 32)
}

// MARK: Key redaction

@Test func hashedNameIsKeyPrefixAndSixteenHexDigits() {
    #expect(KeyRedactor.hashedName(forRawKey: "sk-proj-abc123") == "key_4e36e93944591d2a")
    #expect(KeyRedactor.hashedName(forRawKey: "é") == "key_4a99557e4033c353")
}

@Test func autoHashesOnlyValuesMatchingTheDefaultPattern() throws {
    let redactor = try KeyRedactor(secretPattern: "^(sk|pk|rk)[-_]")
    #expect(redactor.displayName(forRawKey: "sk-proj-abc123", mode: .auto) == "key_4e36e93944591d2a")
    #expect(redactor.displayName(forRawKey: "pk_live_XYZ", mode: .auto) == "key_76627746e1536709")
    #expect(redactor.displayName(forRawKey: "rk-1", mode: .auto).hasPrefix("key_"))
    #expect(redactor.displayName(forRawKey: "team-analytics", mode: .auto) == "team-analytics")
    #expect(redactor.displayName(forRawKey: "skx", mode: .auto) == "skx")
    #expect(redactor.displayName(forRawKey: "ask-1", mode: .auto) == "ask-1")
    #expect(redactor.displayName(forRawKey: "", mode: .auto) == "")
}

@Test func hashModeHashesEveryValue() throws {
    let redactor = try KeyRedactor(secretPattern: "^(sk|pk|rk)[-_]")
    #expect(redactor.displayName(forRawKey: "team-analytics", mode: .hash) == "key_1b26e47e18815655")
    #expect(redactor.displayName(forRawKey: "sk-proj-abc123", mode: .hash) == "key_4e36e93944591d2a")
}

@Test func noneModeStillHashesARawSecret() throws {
    let redactor = try KeyRedactor(secretPattern: "^(sk|pk|rk)[-_]")
    #expect(redactor.displayName(forRawKey: "team-analytics", mode: .none) == "team-analytics")
    #expect(redactor.displayName(forRawKey: "sk-proj-abc123", mode: .none) == "key_4e36e93944591d2a")
}

@Test func customPatternMatchesAnywhereUnlessAnchored() throws {
    let redactor = try KeyRedactor(secretPattern: "secret")
    #expect(redactor.displayName(forRawKey: "my-secret-key", mode: .auto).hasPrefix("key_"))
    #expect(redactor.displayName(forRawKey: "sk-proj-abc123", mode: .auto) == "sk-proj-abc123")
    #expect(redactor.secretPattern == "secret")
}

@Test func invalidPatternThrowsAnErrorThatNamesIt() {
    do {
        _ = try KeyRedactor(secretPattern: "^(sk|pk")
        Issue.record("an unbalanced pattern compiled")
    } catch {
        #expect(error.code == .invalidRegularExpression)
        #expect(error.pattern == "^(sk|pk")
        #expect(error.message.contains("secret_pattern \"^(sk|pk\" is not a valid regular expression"))
        #expect(error.description == error.message)
    }
}

@Test func redactorCanBeSharedAcrossTasks() async throws {
    let redactor = try KeyRedactor(secretPattern: "^(sk|pk|rk)[-_]")
    let names = await withTaskGroup(of: String.self) { group in
        for index in 0..<32 {
            group.addTask { redactor.displayName(forRawKey: index % 2 == 0 ? "sk-proj-abc123" : "team", mode: .auto) }
        }
        var names = Set<String>()
        for await name in group { names.insert(name) }
        return names
    }
    #expect(names == ["key_4e36e93944591d2a", "team"])
}

// MARK: The byte matcher of simple secret patterns

@Test func literalSecretPatternAgreesWithRegexWhereverItAnswers() throws {
    let patterns = [
        "^(sk|pk|rk)[-_]", "secret", "^sk-", "(?:ab|a)b", "[a-c]x", "^[0-9][0-9]", "x[-]", "^(|a)b", #"a\.b"#,
        "^(sk|sk-proj)_", "[a-]", "^(s|sk)k", "K", "[-_a-cx]k", #"[\-.]s"#, "^ ", "[-a-c]x", "[ab-]", "[a-c-]k",
        "[ab-c-]x",
    ]
    // Deterministic strings over an alphabet that the patterns use, of every length up to 7.
    let alphabet = Array("skpr-_abcx.0K ")
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    var keys = ["", "sk-proj-abc123", "team-analytics", "ask-1", "Kelvin", "\u{212A}", "s\u{301}k-", "sk\u{301}-x"]
    for _ in 0..<3000 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        let length = Int(state >> 61)
        var key = ""
        for index in 0..<length {
            key.append(alphabet[Int((state >> UInt64(8 + 4 * index)) % UInt64(alphabet.count))])
        }
        keys.append(key)
    }
    for pattern in patterns {
        let literal = try #require(LiteralSecretPattern(pattern), "\(pattern) is in the subset")
        let regex = try Regex(pattern)
        var answered = 0
        for key in keys {
            var utf8 = key
            guard let fast = utf8.withUTF8({ literal.matches($0) }) else {
                #expect(key.utf8.contains { $0 >= 0x80 }, "only a key that is not all ASCII goes to the Regex")
                continue
            }
            answered += 1
            #expect(fast == key.contains(regex), "\(pattern) on \(key.debugDescription)")
        }
        #expect(answered > 3000)
    }
}

@Test func literalSecretPatternLeavesEverythingElseToTheRegex() {
    for pattern in [
        "a+", "^sk.", "sk$", #"\d"#, #"\w+"#, "[^a]", "[[:alpha:]]", "[a--b]", "[a&&b]", "(a(b))", "a|b", "(?i)sk",
        "[]", "a{2}", #"\bsk"#, "[z-a]", "(sk", "\t", #"[+\--/]"#, "[a-b-c]", "[a-c-x]", "[a-]-]",
    ] {
        #expect(LiteralSecretPattern(pattern) == nil, "\(pattern) is outside the subset")
    }
}
