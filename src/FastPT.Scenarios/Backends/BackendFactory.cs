namespace FastPT.Scenarios.Backends;

/// <summary>Creates the backend `fastpt script` runs on.</summary>
public static class BackendFactory
{
    public static IScenarioBackend Create(bool kernel)
    {
        if (kernel)
            return new KernelBackend();
        return new EngineBackend();
    }
}
