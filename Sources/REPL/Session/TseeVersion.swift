/// The version `tsee --version` prints.
public enum TseeVersion {
    public static let current = "0.4.0"
}
