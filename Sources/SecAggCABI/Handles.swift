/// Opaque C handles: a retained Swift object behind an `OpaquePointer`, released by the matching `_free`.
///
/// A handle the caller passes back is trusted to be one this library returned (C offers no way to check); NULL
/// is always rejected or ignored.
enum Handle {
    /// Retains `object` and returns its handle; the caller owns one reference.
    static func make(_ object: AnyObject) -> OpaquePointer {
        OpaquePointer(Unmanaged.passRetained(object).toOpaque())
    }

    /// The object behind a handle, without taking ownership.
    static func object<Object: AnyObject>(_ handle: OpaquePointer?, as type: Object.Type, _ name: String) throws(CFailure) -> Object {
        guard let handle else { throw .invalidArgument("\(name) is NULL") }
        return Unmanaged<Object>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
    }

    /// Releases the reference the caller owned; NULL is ignored.
    static func release<Object: AnyObject>(_ handle: OpaquePointer?, as type: Object.Type) {
        guard let handle else { return }
        Unmanaged<Object>.fromOpaque(UnsafeRawPointer(handle)).release()
    }

    /// Stores a new handle for `object` in the caller's out parameter.
    static func store(_ object: AnyObject, in out: UnsafeMutablePointer<OpaquePointer?>) {
        out.pointee = make(object)
    }
}
