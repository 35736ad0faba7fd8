using FastPT.Scenarios.Backends;

namespace FastPT.Scenarios.Tests.Goldens;

/// <summary>The engine must print each golden report the live kernel recorded, byte for byte.</summary>
public sealed class GoldenEngineTests
{
    public static TheoryData<string> Names() => GoldenCase.Names();

    [Theory]
    [MemberData(nameof(Names))]
    public void Engine_reproduces_golden(string name) => GoldenCase.AssertReproduces(name, () => new EngineBackend());
}
