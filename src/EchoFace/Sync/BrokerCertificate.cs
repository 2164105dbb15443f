using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using MQTTnet;

namespace EchoFace.Sync;

/// <summary>
/// Checks the broker's TLS certificate (against Fleet.CaFile, or the system's roots) and, when it is refused, says why in words. A
/// board without an RTC boots at 1970, when every certificate is "not yet valid": that is reported as the clock being unset, not
/// as a bad certificate, so the operator waits for NTP instead of replacing certificates.
/// </summary>
public sealed class BrokerCertificate(string host, X509Certificate2Collection? roots, TimeProvider clock)
{
    /// <summary>Why the last handshake's certificate was refused; null after one that was accepted.</summary>
    public string? LastFailure { get; private set; }

    /// <summary>Whether the last refusal was the clock's (unset, behind the certificate, or a certificate that has expired).</summary>
    public bool ClockSuspected { get; private set; }

    /// <summary>Before a new handshake: a later failure that is not the certificate's must not be blamed on it.</summary>
    public void Forget() => (LastFailure, ClockSuspected) = (null, false);

    public bool Validate(MqttClientCertificateValidationEventArgs e)
    {
        var extra = e.Chain?.ChainElements.Select(el => el.Certificate) ?? [];
        (LastFailure, ClockSuspected) = Diagnose(e.Certificate, e.SslPolicyErrors, extra, clock.GetUtcNow());
        return LastFailure is null;
    }

    /// <summary>Null when the certificate is trusted for <c>host</c> at <c>now</c>; otherwise why not, and whether it is the clock.</summary>
    public (string? Failure, bool Clock) Diagnose(X509Certificate? presented, SslPolicyErrors errors, IEnumerable<X509Certificate2> intermediates,
        DateTimeOffset now)
    {
        if (presented is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
            return ($"TLS: the broker {host} sent no certificate", false);
        using var cert = X509CertificateLoader.LoadCertificate(presented.GetRawCertData());
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
            return ($"TLS: the broker's certificate ({cert.Subject}) is not issued for {host}", false);
        using var chain = new X509Chain();
        // a board is often offline: revocation lists cannot be fetched, and a private broker CA publishes none
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        chain.ChainPolicy.ExtraStore.AddRange(intermediates.ToArray());
        if (roots is not null)
        {
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        }
        if (chain.Build(cert)) return (null, false);
        var flags = chain.ChainStatus.Aggregate(X509ChainStatusFlags.NoError, (all, s) => all | s.Status);
        if (!flags.HasFlag(X509ChainStatusFlags.NotTimeValid))
        {
            var why = string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct());
            return ($"TLS: the broker's certificate ({cert.Subject}) is not trusted: {why}" +
                    (roots is null ? " (no Fleet.CaFile: checked against the system's roots)" : ""), false);
        }
        var outside = chain.ChainElements.Select(el => el.Certificate).FirstOrDefault(c => now < c.NotBefore || now > c.NotAfter) ?? cert;
        var window = $"{outside.Subject} is valid from {outside.NotBefore.ToUniversalTime():u} to {outside.NotAfter.ToUniversalTime():u}";
        var reads = $"the device clock reads {now.UtcDateTime:u}";
        var cause = WallClock.Unset(now)
            ? $"{reads}, before this release ({WallClock.Floor:yyyy-MM-dd}): the clock is unset (no RTC, NTP has not answered yet); " +
              "the link connects once it is set"
            : now < outside.NotBefore
                ? $"{reads}, before the certificate's validity: the clock is behind, or the certificate was issued ahead of time"
                : $"{reads}: the certificate has expired, or the clock is ahead";
        return ($"TLS: {window}; {cause}", true);
    }
}
