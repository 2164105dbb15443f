using System.Diagnostics;

namespace EchoFace.Tests.Sync;

/// <summary>A CA and a broker certificate for 127.0.0.1 signed by it, made with openssl for a TLS test (valid from now for two days).</summary>
public static class TestCertificates
{
    /// <returns>file stems: {Ca}.crt/.key and {Server}.crt/.key</returns>
    public static (string Ca, string Server) Make(string dir)
    {
        var ca = Path.Combine(dir, "ca");
        Openssl(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", $"{ca}.key", "-out", $"{ca}.crt", "-days", "2",
            "-subj", "/CN=EchoFace test CA");
        var server = Path.Combine(dir, "server");
        Openssl(dir, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", $"{server}.key", "-out", $"{server}.csr", "-subj", "/CN=127.0.0.1");
        File.WriteAllText($"{server}.ext", "subjectAltName=IP:127.0.0.1\n");
        Openssl(dir, "x509", "-req", "-in", $"{server}.csr", "-CA", $"{ca}.crt", "-CAkey", $"{ca}.key", "-CAcreateserial", "-out",
            $"{server}.crt", "-days", "2", "-extfile", $"{server}.ext");
        return (ca, server);
    }

    /// <summary>mosquitto's lines for a TLS listener with these certificates.</summary>
    public static string Mosquitto((string Ca, string Server) c) => $"cafile {c.Ca}.crt\ncertfile {c.Server}.crt\nkeyfile {c.Server}.key\n";

    private static void Openssl(string dir, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo("openssl", args)
        { RedirectStandardError = true, RedirectStandardOutput = true, WorkingDirectory = dir })!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"openssl {string.Join(' ', args)}: {err}");
    }
}
