// The few parts of node-forge that src/devices/tls.ts uses (the package ships no types).
declare module 'node-forge' {
  namespace forge {
    namespace pki {
      interface PublicKey {}
      interface PrivateKey {}
      interface CertificateField {
        name?: string;
        shortName?: string;
        value?: unknown;
        type?: string;
      }
      interface Certificate {
        publicKey: PublicKey;
        serialNumber: string;
        validity: { notBefore: Date; notAfter: Date };
        subject: { attributes: CertificateField[] };
        setSubject(attrs: CertificateField[]): void;
        setIssuer(attrs: CertificateField[]): void;
        setExtensions(exts: object[]): void;
        generateSubjectKeyIdentifier(): { getBytes(): string };
        sign(key: PrivateKey, md: unknown): void;
      }
      function createCertificate(): Certificate;
      function publicKeyFromPem(pem: string): PublicKey;
      function privateKeyFromPem(pem: string): PrivateKey;
      function certificateFromPem(pem: string): Certificate;
      function certificateToPem(cert: Certificate): string;
    }
    namespace md {
      namespace sha256 {
        function create(): unknown;
      }
    }
  }
  export default forge;
}
