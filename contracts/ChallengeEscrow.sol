// SPDX-License-Identifier: MIT
// chaindb's challenge escrow: stakes in ETH or one ERC-20 per challenge, a resolution signed by
// the admin (EIP-712), and claims. Rebuild the committed ABI and bytecode with
// scripts/build-contracts (solc from the npm registry, version pinned there).
pragma solidity 0.8.26;

interface IERC20 {
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
    function transfer(address to, uint256 amount) external returns (bool);
}

contract ChallengeEscrow {
    uint8 public constant YES = 1;
    uint8 public constant NO = 2;
    uint8 public constant DRAW = 3;

    bytes32 public constant RESOLUTION_TYPEHASH =
        keccak256("Resolution(uint256 challengeId,uint8 winner,uint256 chainId,address escrow)");
    bytes32 public immutable DOMAIN_SEPARATOR;
    address public immutable admin;

    mapping(uint256 => address) public tokenOf; // address(0): ETH
    mapping(uint256 => bool) public opened;
    mapping(uint256 => uint256) public yesTotal;
    mapping(uint256 => uint256) public noTotal;
    mapping(uint256 => uint8) public winnerOf; // 0 while unresolved
    mapping(uint256 => mapping(address => uint256)) public stakeOf;
    mapping(uint256 => mapping(address => uint8)) public sideOf;
    mapping(uint256 => mapping(address => bool)) public claimed;

    event Staked(uint256 indexed challengeId, address indexed staker, uint8 side, address token, uint256 amount);
    event Resolved(uint256 indexed challengeId, uint8 winner, address signer);
    event Claimed(uint256 indexed challengeId, address indexed staker, uint256 amount);

    constructor(address admin_) {
        admin = admin_;
        DOMAIN_SEPARATOR = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256(bytes("ChallengeEscrow")),
                keccak256(bytes("1")),
                block.chainid,
                address(this)
            )
        );
    }

    function stake(uint256 challengeId, uint8 side, address token, uint256 amount) external payable {
        require(side == YES || side == NO, "side must be 1 (YES) or 2 (NO)");
        require(amount > 0, "amount must be > 0");
        require(winnerOf[challengeId] == 0, "challenge resolved");
        require(stakeOf[challengeId][msg.sender] == 0, "already staked");
        if (!opened[challengeId]) {
            opened[challengeId] = true;
            tokenOf[challengeId] = token;
        }
        require(tokenOf[challengeId] == token, "wrong token for this challenge");
        if (token == address(0)) {
            require(msg.value == amount, "send the stake as value");
        } else {
            require(msg.value == 0, "no value with a token stake");
            require(IERC20(token).transferFrom(msg.sender, address(this), amount), "transferFrom failed");
        }
        stakeOf[challengeId][msg.sender] = amount;
        sideOf[challengeId][msg.sender] = side;
        if (side == YES) yesTotal[challengeId] += amount;
        else noTotal[challengeId] += amount;
        emit Staked(challengeId, msg.sender, side, token, amount);
    }

    function resolutionDigest(uint256 challengeId, uint8 winner) public view returns (bytes32) {
        bytes32 structHash = keccak256(abi.encode(RESOLUTION_TYPEHASH, challengeId, winner, block.chainid, address(this)));
        return keccak256(abi.encodePacked("\x19\x01", DOMAIN_SEPARATOR, structHash));
    }

    function resolve(uint256 challengeId, uint8 winner, uint8 v, bytes32 r, bytes32 s) external {
        require(opened[challengeId], "no such challenge");
        require(winnerOf[challengeId] == 0, "already resolved");
        require(winner == YES || winner == NO || winner == DRAW, "winner must be 1, 2 or 3");
        address signer = ecrecover(resolutionDigest(challengeId, winner), v, r, s);
        require(signer != address(0) && signer == admin, "not signed by the admin");
        winnerOf[challengeId] = winner;
        emit Resolved(challengeId, winner, signer);
    }

    /// What `staker` may claim: the stake back on a draw or a one-sided challenge, else the
    /// winners' pro-rata share of the pot (rounded down: the dust stays in the contract).
    function payoutOf(uint256 challengeId, address staker) public view returns (uint256) {
        uint8 winner = winnerOf[challengeId];
        uint256 staked = stakeOf[challengeId][staker];
        if (winner == 0 || staked == 0 || claimed[challengeId][staker]) return 0;
        uint256 yes = yesTotal[challengeId];
        uint256 no = noTotal[challengeId];
        if (winner == DRAW || yes == 0 || no == 0) return staked;
        if (sideOf[challengeId][staker] != winner) return 0;
        return (staked * (yes + no)) / (winner == YES ? yes : no);
    }

    function claim(uint256 challengeId) external {
        uint256 amount = payoutOf(challengeId, msg.sender);
        require(amount > 0, "nothing to claim");
        claimed[challengeId][msg.sender] = true;
        address token = tokenOf[challengeId];
        if (token == address(0)) {
            (bool sent, ) = payable(msg.sender).call{value: amount}("");
            require(sent, "ETH transfer failed");
        } else {
            require(IERC20(token).transfer(msg.sender, amount), "transfer failed");
        }
        emit Claimed(challengeId, msg.sender, amount);
    }
}

/// A minimal ERC-20 for the demo and the tests (anyone may mint).
contract DemoToken {
    string public name = "Demo USD";
    string public symbol = "dUSD";
    uint8 public constant decimals = 6;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    function mint(address to, uint256 amount) external {
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _move(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        require(allowance[from][msg.sender] >= amount, "allowance");
        allowance[from][msg.sender] -= amount;
        _move(from, to, amount);
        return true;
    }

    function _move(address from, address to, uint256 amount) private {
        require(balanceOf[from] >= amount, "balance");
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }
}
