// SPDX-License-Identifier: MIT
pragma solidity 0.8.26;

/// Creator metrics synced from chaindb's database (seed 004's oracle), and the creator coins
/// created at the milestone (50,000 plays and 5,000 followers, as the contract itself checks
/// on the metrics it holds). A creator is known by its chaindb id: no wallet address or other
/// personal data is written on chain, where nothing can be erased.
contract CreatorOracle {
    uint256 public constant COIN_PLAYS_MIN = 50_000;
    uint256 public constant COIN_FOLLOWERS_MIN = 5_000;
    uint256 public constant COIN_SUPPLY = 1_000_000 ether;

    struct Metrics {
        uint64 sequence; // strictly increasing per creator: an older snapshot never wins
        uint64 updatedAt;
        uint256 totalPlays;
        uint256 monthlyPlays;
        uint256 followers;
        uint256 monthlyRevenue; // attoFIL
        uint16 engagementBps; // engagement score x 100 (0..10000)
    }

    address public owner;
    mapping(address => bool) public isOracle;
    mapping(uint64 => Metrics) public metricsOf;
    mapping(uint64 => address) public coinOf;

    event MetricsUpdated(uint64 indexed creatorId, uint64 sequence, uint256 totalPlays, uint256 followers);
    event CoinCreated(uint64 indexed creatorId, address coin, string symbol);

    modifier onlyOracle() {
        require(isOracle[msg.sender], "not an oracle");
        _;
    }

    constructor(address oracle) {
        owner = msg.sender;
        isOracle[oracle] = true;
    }

    function setOracle(address oracle, bool allowed) external {
        require(msg.sender == owner, "not the owner");
        isOracle[oracle] = allowed;
    }

    function updateMetrics(
        uint64 creatorId,
        uint64 sequence,
        uint256 totalPlays,
        uint256 monthlyPlays,
        uint256 followers,
        uint256 monthlyRevenue,
        uint16 engagementBps
    ) external onlyOracle {
        require(sequence > metricsOf[creatorId].sequence, "stale metrics");
        require(engagementBps <= 10_000, "engagement above 100");
        metricsOf[creatorId] = Metrics(
            sequence, uint64(block.timestamp), totalPlays, monthlyPlays, followers, monthlyRevenue, engagementBps
        );
        emit MetricsUpdated(creatorId, sequence, totalPlays, followers);
    }

    function createCoin(uint64 creatorId, string calldata name, string calldata symbol)
        external
        onlyOracle
        returns (address coin)
    {
        require(coinOf[creatorId] == address(0), "coin exists");
        Metrics storage metrics = metricsOf[creatorId];
        require(
            metrics.totalPlays >= COIN_PLAYS_MIN && metrics.followers >= COIN_FOLLOWERS_MIN,
            "milestone not reached"
        );
        coin = address(new CreatorCoin(name, symbol, COIN_SUPPLY, msg.sender));
        coinOf[creatorId] = coin;
        emit CoinCreated(creatorId, coin, symbol);
    }
}

/// A plain ERC-20: the whole supply minted once, to the platform's treasury.
contract CreatorCoin {
    string public name;
    string public symbol;
    uint8 public constant decimals = 18;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor(string memory name_, string memory symbol_, uint256 supply, address treasury) {
        name = name_;
        symbol = symbol_;
        totalSupply = supply;
        balanceOf[treasury] = supply;
        emit Transfer(address(0), treasury, supply);
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _move(msg.sender, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        require(allowance[from][msg.sender] >= value, "allowance");
        allowance[from][msg.sender] -= value;
        _move(from, to, value);
        return true;
    }

    function _move(address from, address to, uint256 value) private {
        require(balanceOf[from] >= value, "balance");
        balanceOf[from] -= value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}
