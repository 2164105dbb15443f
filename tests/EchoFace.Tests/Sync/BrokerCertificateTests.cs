using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using EchoFace.Sync;

namespace EchoFace.Tests.Sync;

/// <summary>
/// Why a broker's certificate is refused, in words: a clock before this release is "unset" (a board without an RTC before NTP), a
/// clock behind or ahead of the certificate is suspected, and a certificate that is not trusted or not for this host is not the clock.
/// </summary>
[Trait("Category", "Unit")]
public sealed class BrokerCertificateTests
{
    private static readonly string Dir = TestEnvironment.TempDirectory();
    private static readonly (string Ca, string Server) Files = TestCertificates.Make(Dir);
    private readonly X509Certificate2 _server = Roots(Files.Server)[0];

    private static X509Certificate2Collection Roots(string stem)
    {
        var roots = new X509Certificate2Collection();
        roots.ImportFromPemFile($"{stem}.crt");
        return roots;
    }

    private (string? Failure, bool Clock) At(DateTimeOffset now, X509Certificate2Collection? roots = null,
        SslPolicyErrors errors = SslPolicyErrors.RemoteCertificateChainErrors) =>
        new BrokerCertificate("127.0.0.1", roots ?? Roots(Files.Ca), TimeProvider.System).Diagnose(_server, errors, [], now);

    [Fact]
    public void A_certificate_of_the_configured_ca_is_accepted_while_valid()
    {
        Assert.Equal((null, false), At(DateTimeOffset.UtcNow));
        Assert.Equal((null, false), At(DateTimeOffset.UtcNow.AddDays(1)));
    }

    [Fact]
    public void At_1970_the_clock_is_reported_unset_not_the_certificate_bad()
    {
        var (failure, clock) = At(new DateTimeOffset(1970, 1, 2, 0, 0, 0, TimeSpan.Zero));
        Assert.True(clock);
        Assert.Contains("the device clock reads 1970-01-02 00:00:00Z, before this release (2026-11-01): the clock is unset", failure);
        Assert.Contains($"is valid from {_server.NotBefore.ToUniversalTime():u}", failure);
    }

    [Fact]
    public void A_set_clock_behind_or_ahead_of_the_certificate_is_suspected()
    {
        var behind = At(_server.NotBefore.ToUniversalTime().AddDays(-3));
        Assert.True(behind.Clock);
        Assert.Contains("before the certificate's validity: the clock is behind", behind.Failure);
        var ahead = At(_server.NotAfter.ToUniversalTime().AddDays(3));
        Assert.True(ahead.Clock);
        Assert.Contains("the certificate has expired, or the clock is ahead", ahead.Failure);
    }

    [Fact]
    public void Another_ca_or_another_host_is_not_the_clock()
    {
        var other = Path.Combine(Dir, "other");
        Directory.CreateDirectory(other);
        var untrusted = At(DateTimeOffset.UtcNow, Roots(TestCertificates.Make(other).Ca));
        Assert.False(untrusted.Clock);
        Assert.Contains("is not trusted", untrusted.Failure);
        var name = At(DateTimeOffset.UtcNow, errors: SslPolicyErrors.RemoteCertificateNameMismatch);
        Assert.Equal(("TLS: the broker's certificate (CN=127.0.0.1) is not issued for 127.0.0.1", false), name);
        Assert.Contains("sent no certificate",
            new BrokerCertificate("b", null, TimeProvider.System).Diagnose(null, SslPolicyErrors.RemoteCertificateNotAvailable, [], default).Failure);
    }
}
