// The Automation module. See the Package.swift comment for its concern.
