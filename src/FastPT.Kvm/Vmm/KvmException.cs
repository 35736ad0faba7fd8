namespace FastPT.Kvm.Vmm;

/// <summary>A KVM ioctl or host call failed; the message names the call and errno.</summary>
public sealed class KvmException : Exception
{
    public KvmException(string message) : base(message) { }
    public KvmException(string message, Exception inner) : base(message, inner) { }
    public KvmException() { }
}
