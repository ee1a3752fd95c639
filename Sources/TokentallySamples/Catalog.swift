#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import TokentallySystem
import TokentallyReading

struct Catalog: Sendable {
    /// Per key, what its traffic looks like. Plain values only (see `ProviderChoice`).
    struct KeyProfile: Sendable {
        var favoriteModel: Int
        var streamShare: Double
        var userAgent: Int
        var region: Int
        var app: Int
        var environment: Int
    }

    /// A model's numbers, without its strings.
    struct ModelNumbers: Sendable {
        var reasoning: Double
        var caching: Caching
        var medianInput: Double
        var medianOutput: Double
        var inputPrice: Double
        var outputPrice: Double
        var cacheReadPrice: Double
        var cacheWritePrice: Double
        var speed: Double
        var firstTokenFactor: Double
        var providers: ProviderChoice
    }

    let keys: [KeyProfile]
    let keyValues: StringTable
    let keyZipf: ZipfTable
    let modelZipf: ZipfTable
    let models: [ModelNumbers]
    let providers: [ProviderProfileNumbers]
    let modelNames: StringTable
    let providerNames: StringTable
    let userAgents: StringTable
    let regions: StringTable
    let apps: StringTable
    let appsEscaped: StringTable
    let environments: StringTable
    let tags: StringTable
    let finishReasons: StringTable

    /// A provider's numbers, without its strings.
    struct ProviderProfileNumbers: Sendable {
        var medianFirstTokenMillis: Double
        var tokensPerSecond: Double
        var priceFactor: Double
    }

    static let modelProfiles: [ModelProfile] = [
        ModelProfile(
            slug: "anthropic/claude-sonnet-4.5", providers: [(0, 0.52), (1, 0.33), (2, 0.15)], reasoning: 0.2,
            caching: .explicit, medianInput: 3500, medianOutput: 420, prices: (3, 15, 0.3, 3.75), speed: 1.0,
            firstTokenFactor: 1.0),
        ModelProfile(
            slug: "openai/gpt-5", providers: [(4, 0.74), (5, 0.26)], reasoning: 1.0, caching: .automatic,
            medianInput: 2500, medianOutput: 380, prices: (1.25, 10, 0.125, 0), speed: 0.8, firstTokenFactor: 1.3),
        ModelProfile(
            slug: "google/gemini-2.5-flash", providers: [(2, 0.62), (3, 0.38)], reasoning: 0.5,
            caching: .automatic, medianInput: 1800, medianOutput: 330, prices: (0.3, 2.5, 0.075, 0), speed: 2.0,
            firstTokenFactor: 0.6),
        ModelProfile(
            slug: "openai/gpt-5-mini", providers: [(4, 0.8), (5, 0.2)], reasoning: 1.0, caching: .automatic,
            medianInput: 1200, medianOutput: 280, prices: (0.25, 2, 0.025, 0), speed: 1.4, firstTokenFactor: 0.8),
        ModelProfile(
            slug: "anthropic/claude-haiku-4.5", providers: [(0, 0.6), (1, 0.4)], reasoning: 0, caching: .explicit,
            medianInput: 1500, medianOutput: 260, prices: (1, 5, 0.1, 1.25), speed: 1.8, firstTokenFactor: 0.6),
        ModelProfile(
            slug: "google/gemini-2.5-pro", providers: [(2, 0.7), (3, 0.3)], reasoning: 1.0, caching: .automatic,
            medianInput: 4000, medianOutput: 450, prices: (1.25, 10, 0.31, 0), speed: 0.9, firstTokenFactor: 1.4),
        ModelProfile(
            slug: "deepseek/deepseek-r1", providers: [(8, 0.35), (6, 0.3), (7, 0.2), (11, 0.15)], reasoning: 1.0,
            caching: .automatic, medianInput: 1500, medianOutput: 400, prices: (0.55, 2.19, 0.14, 0), speed: 0.7,
            firstTokenFactor: 1.5),
        ModelProfile(
            slug: "meta-llama/llama-4-maverick", providers: [(9, 0.45), (6, 0.25), (7, 0.2), (8, 0.1)],
            reasoning: 0, caching: .none, medianInput: 1000, medianOutput: 300, prices: (0.27, 0.85, 0, 0),
            speed: 1.3, firstTokenFactor: 0.7),
        ModelProfile(
            slug: "qwen/qwen3-coder", providers: [(12, 0.4), (6, 0.25), (7, 0.2), (8, 0.15)], reasoning: 0,
            caching: .automatic, medianInput: 9000, medianOutput: 650, prices: (0.4, 1.6, 0.04, 0), speed: 1.0,
            firstTokenFactor: 1.0),
        ModelProfile(
            slug: "x-ai/grok-4", providers: [(10, 0.8), (5, 0.2)], reasoning: 1.0, caching: .automatic,
            medianInput: 2000, medianOutput: 420, prices: (3, 15, 0.75, 0), speed: 0.8, firstTokenFactor: 1.5),
        ModelProfile(
            slug: "anthropic/claude-opus-4.1", providers: [(0, 0.55), (1, 0.3), (2, 0.15)], reasoning: 0.3,
            caching: .explicit, medianInput: 5000, medianOutput: 520, prices: (15, 75, 1.5, 18.75), speed: 0.55,
            firstTokenFactor: 1.6),
        ModelProfile(
            slug: "mistralai/mistral-medium-3", providers: [(13, 0.7), (5, 0.3)], reasoning: 0, caching: .none,
            medianInput: 1500, medianOutput: 350, prices: (0.4, 2, 0, 0), speed: 1.1, firstTokenFactor: 0.8),
    ]

    static let providerProfiles: [ProviderProfile] = [
        ProviderProfile(slug: "anthropic", medianFirstTokenMillis: 650, tokensPerSecond: 75, priceFactor: 1),
        ProviderProfile(slug: "amazon-bedrock", medianFirstTokenMillis: 850, tokensPerSecond: 65, priceFactor: 1),
        ProviderProfile(slug: "google-vertex", medianFirstTokenMillis: 700, tokensPerSecond: 90, priceFactor: 1),
        ProviderProfile(slug: "google-ai-studio", medianFirstTokenMillis: 600, tokensPerSecond: 110, priceFactor: 1),
        ProviderProfile(slug: "openai", medianFirstTokenMillis: 500, tokensPerSecond: 85, priceFactor: 1),
        ProviderProfile(slug: "azure", medianFirstTokenMillis: 600, tokensPerSecond: 80, priceFactor: 1),
        ProviderProfile(slug: "together", medianFirstTokenMillis: 420, tokensPerSecond: 140, priceFactor: 1),
        ProviderProfile(slug: "fireworks", medianFirstTokenMillis: 350, tokensPerSecond: 180, priceFactor: 0.9),
        ProviderProfile(slug: "deepinfra", medianFirstTokenMillis: 480, tokensPerSecond: 110, priceFactor: 0.7),
        ProviderProfile(slug: "groq", medianFirstTokenMillis: 180, tokensPerSecond: 450, priceFactor: 0.8),
        ProviderProfile(slug: "xai", medianFirstTokenMillis: 700, tokensPerSecond: 70, priceFactor: 1),
        ProviderProfile(slug: "deepseek", medianFirstTokenMillis: 1200, tokensPerSecond: 35, priceFactor: 1),
        ProviderProfile(slug: "alibaba", medianFirstTokenMillis: 700, tokensPerSecond: 90, priceFactor: 0.9),
        ProviderProfile(slug: "mistral", medianFirstTokenMillis: 380, tokensPerSecond: 120, priceFactor: 1),
    ]

    static let userAgentNames = [
        "openai-python/1.109.1", "OpenAI/NodeJS/5.23.2", "anthropic-sdk-python/0.69.0", "litellm/1.77.7",
        "curl/8.5.0", "langchain-openai/0.3.33", "Go-http-client/2.0", "ai-sdk/5.0.60",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Chrome/141.0 Safari/537.36",
    ]
    static let regionNames = [
        "us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1", "ap-southeast-2",
    ]
    // Some names need escapes or are not ASCII, as real metadata does.
    static let appNames = [
        "support-bot", "code-review", "search-summarizer", "café-assistant", "data \"etl\" nightly", "翻訳-pipeline",
        "agent 🚀 runner", "docs-qa", "sales-copilot", "eval-harness", "back\\office\tsync",
    ]
    static let environmentNames = ["prod", "staging", "dev"]
    static let tagNames = ["chat", "batch", "tool-use", "rag", "tier-1", "tier-2", "internal", "experiment"]
    static let finishReasonNames = ["stop", "length", "tool_calls", "content_filter"]

    init(keys count: Int, seed: UInt64) {
        models = Self.modelProfiles.map {
            ModelNumbers(
                reasoning: $0.reasoning, caching: $0.caching, medianInput: $0.medianInput,
                medianOutput: $0.medianOutput, inputPrice: $0.prices.input, outputPrice: $0.prices.output,
                cacheReadPrice: $0.prices.cacheRead, cacheWritePrice: $0.prices.cacheWrite, speed: $0.speed,
                firstTokenFactor: $0.firstTokenFactor, providers: ProviderChoice($0.providers))
        }
        providers = Self.providerProfiles.map {
            ProviderProfileNumbers(
                medianFirstTokenMillis: $0.medianFirstTokenMillis, tokensPerSecond: $0.tokensPerSecond,
                priceFactor: $0.priceFactor)
        }
        modelNames = StringTable(Self.modelProfiles.map(\.slug))
        providerNames = StringTable(Self.providerProfiles.map(\.slug))
        userAgents = StringTable(Self.userAgentNames)
        regions = StringTable(Self.regionNames)
        apps = StringTable(Self.appNames)
        appsEscaped = StringTable(Self.appNames, asciiOnly: true)
        environments = StringTable(Self.environmentNames)
        tags = StringTable(Self.tagNames)
        finishReasons = StringTable(Self.finishReasonNames)
        modelZipf = ZipfTable(count: Self.modelProfiles.count, exponent: 1.1)
        keyZipf = ZipfTable(count: count, exponent: 1.05)

        // The key table has its own stream, so it does not change with the number of lines.
        var random = Xoshiro256(seed: seed ^ 0x0A91_CE75_EC2E_7000)
        let agentZipf = ZipfTable(count: Self.userAgentNames.count, exponent: 0.9)
        let streamShares = ZipfTable(weights: [0.45, 0.35, 0.2])
        var seen = Set<String>()
        var values = StringTable()
        var table: [KeyProfile] = []
        table.reserveCapacity(count)
        while table.count < count {
            let value = Self.drawKey(&random)
            guard seen.insert(value).inserted else { continue }
            values.append(value)
            table.append(
                KeyProfile(
                    favoriteModel: modelZipf.draw(&random),
                    streamShare: [0.95, 0.7, 0.15][streamShares.draw(&random)],
                    userAgent: agentZipf.draw(&random),
                    region: random.below(Self.regionNames.count),
                    app: random.below(Self.appNames.count),
                    environment: random.chance(0.8) ? 0 : (random.chance(0.75) ? 1 : 2)))
        }
        keys = table
        keyValues = values
    }

    /// A key value: about a third look like raw secrets, the rest like key identifiers.
    static func drawKey(_ random: inout Xoshiro256) -> String {
        let alphanumerics = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)
        let hex = Array("0123456789abcdef".utf8)
        func run(_ prefix: String, _ alphabet: [UInt8], _ count: Int) -> String {
            prefix + String(decoding: (0..<count).map { _ in alphabet[random.below(alphabet.count)] }, as: UTF8.self)
        }
        if random.chance(1.0 / 3) {
            switch random.below(10) {
            case 0..<5: return run("sk-live-", alphanumerics, 40)
            case 5..<8: return run("sk_proj_", alphanumerics, 48)
            default: return run("sk-or-v1-", hex, 64)
            }
        }
        return run("key-", hex, 16)
    }

    /// Draws one request completed at `completedMicros`.
    func draw(_ random: inout Xoshiro256, completedMicros: Int64) -> SampleRecord {
        var record = SampleRecord()
        record.completedMicros = completedMicros
        record.randomID = random.next()
        record.key = keyZipf.draw(&random)
        let key = keys[record.key]
        record.model = random.chance(0.55) ? key.favoriteModel : modelZipf.draw(&random)
        let model = models[record.model]
        record.provider = model.providers.draw(&random)
        let provider = providers[record.provider]
        record.stream = random.chance(key.streamShare)
        record.lateMicros = random.chance(0.03) ? Int64(1 + random.below(400_000)) : 0

        record.timestampAsEpoch = random.chance(0.05)
        let spelling = random.unit()
        record.costSpelling = spelling < 0.85 ? 0 : spelling < 0.93 ? 1 : spelling < 0.98 ? 2 : 3
        record.fractionalMillis = random.chance(0.4)
        let statusSpelling = random.unit()
        record.statusSpelling = statusSpelling < 0.94 ? 0 : statusSpelling < 0.97 ? 1 : 2
        record.writesGenerationTime = random.chance(0.85)
        record.escapeNonASCII = random.chance(0.1)
        record.tagsStart = random.below(tags.count)
        record.tagsCount = 1 + random.below(3)

        if random.chance(0.03) {
            let kind = random.unit()
            let (status, median, sigma): (Int, Double, Double) =
                kind < 0.45
                ? (429, 60, 0.5) : kind < 0.65 ? (500, 900, 0.8) : kind < 0.8 ? (502, 4000, 0.9) : (400, 120, 0.5)
            record.status = status
            record.latencyMicros = Int64(min(random.logNormal(median: median, sigma: sigma), 120_000) * 1000)
            return record
        }

        var input = Int64(min(max(random.logNormal(median: model.medianInput, sigma: 1.1), 1), 400_000))
        var cached: Int64 = 0
        var write5m: Int64 = 0
        var write1h: Int64 = 0
        switch model.caching {
        case .none:
            break
        case .automatic:
            if input >= 1024 && random.chance(0.35) {
                cached = Int64(Double(input) * random.uniform(0.3, 0.95)) / 128 * 128
            }
        case .explicit:
            if input >= 1024 && random.chance(0.45) {
                cached = Int64(Double(input) * random.uniform(0.3, 0.95))
            }
            if input >= 1024 && random.chance(0.18) {
                let written = Int64(Double(input - cached) * random.uniform(0.5, 0.98))
                if random.chance(0.2) { write1h = written } else { write5m = written }
            }
        }
        let visible = Int64(min(max(random.logNormal(median: model.medianOutput, sigma: 0.9), 1), 16_000))
        let reasoning =
            random.chance(model.reasoning) ? Int64(min(max(random.logNormal(median: 700, sigma: 1.0), 16), 24_000)) : 0
        let output = visible + reasoning
        let webSearch: Int64 = random.chance(0.05) ? Int64(1 + random.below(3)) : 0
        input = max(input, cached + write5m + write1h)

        var firstTokenMillis =
            random.logNormal(median: provider.medianFirstTokenMillis * model.firstTokenFactor, sigma: 0.45)
            + Double(input) * 0.012 + Double(webSearch) * random.uniform(400, 1500)
        if random.chance(0.01) { firstTokenMillis *= random.uniform(3, 10) }  // queued upstream
        let tokensPerSecond = random.logNormal(median: provider.tokensPerSecond * model.speed, sigma: 0.3)
        let generationMillis = max(Double(output) / tokensPerSecond * 1000, 1)
        let overheadMillis = 3 + random.logNormal(median: 12, sigma: 0.6)
        record.ttftMicros = Int64(firstTokenMillis * 1000)
        record.generationMicros = Int64(generationMillis * 1000)
        record.latencyMicros = record.ttftMicros + record.generationMicros + Int64(overheadMillis * 1000)

        // Prices are dollars per million tokens, so dollars per million × 1000 is nano-dollars
        // per token.
        let uncached = Double(input - cached - write5m - write1h)
        var cost = uncached * model.inputPrice + Double(cached) * model.cacheReadPrice
        cost += Double(write5m) * model.cacheWritePrice + Double(write1h) * model.cacheWritePrice * 1.6
        cost += Double(output) * model.outputPrice
        record.costNanos = Int64((cost * 1000 * provider.priceFactor).rounded()) + webSearch * 10_000_000

        record.inputTokens = input
        record.outputTokens = output
        record.cachedTokens = cached
        record.cacheWrite5mTokens = write5m
        record.cacheWrite1hTokens = write1h
        record.reasoningTokens = reasoning
        record.webSearchCalls = webSearch
        let finish = random.unit()
        record.finishReason = finish < 0.86 ? 0 : finish < 0.9 ? 1 : finish < 0.995 ? 2 : 3
        return record
    }

    func writeApp(_ record: SampleRecord, into line: inout LineBuffer) {
        let index = keys[record.key].app
        if record.escapeNonASCII {
            appsEscaped.write(index, into: &line)
        } else {
            apps.write(index, into: &line)
        }
    }

    func writeTags(_ record: SampleRecord, into line: inout LineBuffer) {
        line.byte(0x5B)  // [
        for offset in 0..<record.tagsCount {
            if offset > 0 { line.byte(0x2C) }
            tags.write((record.tagsStart + offset * 3) % tags.count, into: &line)
        }
        line.byte(0x5D)  // ]
    }
}
