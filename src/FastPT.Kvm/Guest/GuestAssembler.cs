using Iced.Intel;
using FastPT.Kvm.Vmm;

namespace FastPT.Kvm.Guest;

/// <summary>Assembles Iced code at a guest address and copies it into guest RAM.</summary>
public static class GuestAssembler
{
    /// <summary>Encodes <paramref name="asm"/> for address <paramref name="ip"/>, writes it there, returns the result (for label addresses).</summary>
    public static AssemblerResult Emit(GuestMemory memory, Assembler asm, ulong ip, ulong limit)
    {
        var writer = new MemoryCodeWriter();
        var result = asm.Assemble(writer, ip, BlockEncoderOptions.ReturnNewInstructionOffsets);
        if ((ulong)writer.Length > limit)
            throw new InvalidOperationException($"guest code at 0x{ip:X} is {writer.Length} bytes, more than the {limit} bytes reserved for it");
        writer.CopyTo(memory.Bytes(ip, writer.Length));
        return result;
    }

    private sealed class MemoryCodeWriter : CodeWriter
    {
        private readonly List<byte> _bytes = [];

        public int Length => _bytes.Count;

        public override void WriteByte(byte value) => _bytes.Add(value);

        public void CopyTo(Span<byte> target) => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_bytes).CopyTo(target);
    }
}
