// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// @notice A semantic version string; its major part names EIP-712 domains.
abstract contract SemVer {
    string private _version;

    constructor(string memory version_) {
        _version = version_;
    }

    function version() public view virtual returns (string memory) {
        return _version;
    }

    /// @dev The numeric major part: an optional leading 'v'/'V' dropped, then everything before the
    ///      first '.', so "1.2.3" and "v1.2.3" both give "1" (as EigenLayer's SemVerMixin does).
    function _majorVersion() internal view returns (string memory) {
        bytes memory full = bytes(_version);
        uint256 start = (full.length > 0 && (full[0] == "v" || full[0] == "V")) ? 1 : 0;
        uint256 end = start;
        while (end < full.length && full[end] != ".") ++end;
        bytes memory major = new bytes(end - start);
        for (uint256 i = start; i < end; ++i) {
            major[i - start] = full[i];
        }
        return string(major);
    }
}
