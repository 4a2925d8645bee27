// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./Interfaces.sol";

/// The active set, and only that: which orchestrators may claim from reserves and take payments.
/// Livepeer's BondingManager elects it from stake each round; here the Controller's owner sets it
/// (a devnet has no stake), effective at once.
contract BondingManager is Controlled {
    address[] private pool;
    mapping(address => uint256) private position; // 1-based index into pool; 0: not active

    event TranscoderActivated(address indexed transcoder);
    event TranscoderDeactivated(address indexed transcoder);

    constructor(address controller_) Controlled(controller_) {}

    function setActiveTranscoder(address transcoder, bool active) external onlyControllerOwner {
        require(transcoder != address(0), "transcoder is null address");
        uint256 at = position[transcoder];
        if (active && at == 0) {
            pool.push(transcoder);
            position[transcoder] = pool.length;
            emit TranscoderActivated(transcoder);
        } else if (!active && at != 0) {
            address last = pool[pool.length - 1];
            pool[at - 1] = last;
            position[last] = at;
            pool.pop();
            position[transcoder] = 0;
            emit TranscoderDeactivated(transcoder);
        }
    }

    function isActiveTranscoder(address transcoder) external view returns (bool) {
        return position[transcoder] != 0;
    }

    function getTranscoderPoolSize() external view returns (uint256) {
        return pool.length;
    }
}
